"""In-memory Refiner project: contacts, accounts, forms, segments, responses, tags and events.

Objects keep integer epoch seconds; sorted indexes (one per list order) make keyset paging a
bisect plus a slice, so paging 100k contacts costs O(page) per request. All mutation happens
on the event loop thread, so no locking is needed.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from refiner_emulator import timefmt

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Sort key used for a missing timestamp in newest-first indexes, so that nulls sort last.
NULL_LAST = 1 << 62
MAX_TEXT = 255
MAX_TAGS = 20


class ApiError(Exception):
    """A client error the API answers with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the HTTP status next to the message."""
        super().__init__(message)
        self.status = status
        self.message = message


def make_uuid(rng: random.Random) -> str:
    """A version-1-looking UUID (Refiner's ids are time UUIDs), drawn from ``rng``."""
    s = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(s[16], 16) & 3]
    return f"{s[:8]}-{s[8:12]}-1{s[13:16]}-{variant}{s[17:20]}-{s[20:32]}"


@dataclass(slots=True)
class Account:
    """A group of contacts (``account`` in identify)."""

    seq: int
    uuid: str
    remote_id: str
    display_name: str | None
    domain: str | None
    first_seen_at: int
    last_seen_at: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Contact:
    """One end user; ``remote_id`` is the customer's own id, ``uuid`` Refiner's."""

    seq: int
    uuid: str
    remote_id: str | None
    email: str | None
    display_name: str | None
    first_seen_at: int
    last_seen_at: int
    attributes: dict[str, Any] = field(default_factory=dict)
    # segment uuid -> [entered_at, updated_at]
    segments: dict[str, list[int]] = field(default_factory=dict)
    account: Account | None = None
    last_form_submission_at: int | None = None
    last_form_view_at: int | None = None
    last_tracking_event_at: int | None = None
    submissions_count: int = 0
    views_count: int = 0
    identify_count: int = 0


@dataclass(slots=True)
class HistoryEntry:
    """One change-log row of a form (GET /forms/history)."""

    seq: int
    uuid: str
    action: str
    snapshot: dict[str, Any]
    created_at: int


@dataclass(slots=True)
class Form:
    """A survey; ``elements`` are the questions (``config.form_elements``)."""

    seq: int
    uuid: str
    name: str
    elements: list[dict[str, Any]]
    channels: list[str]
    created_at: int
    updated_at: int
    published_at: int | None
    archived_at: int | None
    history: list[HistoryEntry] = field(default_factory=list)

    def question_ids(self) -> set[str]:
        """Identifiers usable as ``data`` keys."""
        return {str(e["id"]) for e in self.elements}


@dataclass(slots=True)
class Segment:
    """A contact segment; only manual ones accept sync-segment calls."""

    uuid: str
    name: str
    is_manual: bool


@dataclass(slots=True)
class Tag:
    """A response tag; created on first use, referenced by ``tag_uuid`` filters."""

    uuid: str
    name: str


@dataclass(slots=True)
class Response:
    """A survey view, partial or completed response."""

    seq: int
    uuid: str
    form: Form
    contact: Contact
    first_shown_at: int
    last_shown_at: int
    show_counter: int | None
    first_data_reception_at: int | None
    last_data_reception_at: int | None
    completed_at: int | None
    dismissed_at: int | None
    received_at: int | None
    data: dict[str, Any]
    tags: list[Tag] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    """A tracked event (POST /track-event); properties are not stored, as in Refiner."""

    seq: int
    user_id: str | None
    email: str | None
    event: str
    time: float
    contact_uuid: str


class SortedIndex:
    """Keys ``(sort value…, seq)`` kept sorted; the list order is the API's list order."""

    def __init__(self, keyfunc: Callable[[Any], tuple[Any, ...] | None]) -> None:
        """``keyfunc`` returns None for objects that do not belong in the index."""
        self.keyfunc = keyfunc
        self.keys: list[tuple[Any, ...]] = []
        self._key_of: dict[int, tuple[Any, ...]] = {}
        # An index is built on first use; until then updates are skipped (it will sort later).
        self.ready = False

    def rebuild(self, objects: Iterable[Any]) -> None:
        """Index many objects at once (one sort instead of n inserts)."""
        key_of = {}
        for obj in objects:
            key = self.keyfunc(obj)
            if key is not None:
                key_of[obj.seq] = key
        self._key_of = key_of
        self.keys = sorted(key_of.values())
        self.ready = True

    def upsert(self, obj: Any) -> None:  # noqa: ANN401 - any indexed dataclass
        """Insert or move ``obj`` after its sort value changed."""
        if not self.ready:
            return
        key = self.keyfunc(obj)
        old = self._key_of.get(obj.seq)
        if old == key:
            return
        if old is not None:
            del self.keys[bisect_left(self.keys, old)]
            del self._key_of[obj.seq]
        if key is not None:
            insort(self.keys, key)
            self._key_of[obj.seq] = key

    def discard(self, obj: Any) -> None:  # noqa: ANN401 - any indexed dataclass
        """Remove ``obj`` if present."""
        if not self.ready:
            return
        old = self._key_of.pop(obj.seq, None)
        if old is not None:
            del self.keys[bisect_left(self.keys, old)]


def _desc(value: int | None) -> int:
    return -value if value is not None else NULL_LAST


def _text(value: str | None) -> tuple[int, str]:
    return (0, value.casefold()) if value else (1, "")


# Contact list orders. Timestamps list newest first (nulls last); names and emails A→Z.
CONTACT_ORDERS: dict[str, Callable[[Contact], tuple[Any, ...]]] = {
    "first_seen_at": lambda c: (_desc(c.first_seen_at), c.seq),
    "last_seen_at": lambda c: (_desc(c.last_seen_at), c.seq),
    "last_form_submission_at": lambda c: (_desc(c.last_form_submission_at), c.seq),
    "display_name": lambda c: (*_text(c.display_name), c.seq),
    "email": lambda c: (*_text(c.email), c.seq),
}


def _by_reception(r: Response) -> tuple[int, int] | None:
    if r.last_data_reception_at is None:
        return None
    return (-r.last_data_reception_at, r.seq)


def _by_shown(r: Response) -> tuple[int, int]:
    return (-r.last_shown_at, r.seq)


class Store:
    """The data of one Refiner project plus the mutation rules of the write endpoints."""

    def __init__(self, seed: int, reference_time: int) -> None:
        """Create an empty project; ``seed.populate`` fills it."""
        self.seed = seed
        self.reference_time = reference_time
        self.rng = random.Random(seed * 7919 + 17)  # noqa: S311 - reproducible ids, not security
        self.project_uuid = make_uuid(self.rng)
        self.project_name = "Production"
        self.environment_uuid = make_uuid(self.rng)
        self._seq = 0
        self.contacts: dict[int, Contact] = {}
        self.contacts_by_uuid: dict[str, Contact] = {}
        self.contacts_by_remote_id: dict[str, Contact] = {}
        self.contacts_by_email: dict[str, list[Contact]] = {}
        self.accounts_by_remote_id: dict[str, Account] = {}
        self.forms: dict[str, Form] = {}
        self.segments: dict[str, Segment] = {}
        self.tags_by_name: dict[str, Tag] = {}
        self.tags_by_uuid: dict[str, Tag] = {}
        self.responses: dict[int, Response] = {}
        self.responses_by_uuid: dict[str, Response] = {}
        self.responses_by_contact: dict[int, list[Response]] = {}
        self.events: list[Event] = []
        self.contact_index = {name: SortedIndex(fn) for name, fn in CONTACT_ORDERS.items()}
        self.response_by_reception = SortedIndex(_by_reception)
        self.response_by_shown = SortedIndex(_by_shown)
        self.rebuild_indexes()

    # ----------------------------------------------------------------- ids and indexes
    def next_seq(self) -> int:
        """Monotonic id that also breaks ties in sort keys."""
        self._seq += 1
        return self._seq

    def new_uuid(self) -> str:
        """Deterministic per seed, so runs can be compared."""
        return make_uuid(self.rng)

    def rebuild_indexes(self) -> None:
        """Sort the default orders once after bulk seeding; other orders sort on first use."""
        for index in self.contact_index.values():
            index.ready = False
        self.contact_index["first_seen_at"].rebuild(self.contacts.values())
        self.response_by_reception.rebuild(self.responses.values())
        self.response_by_shown.rebuild(self.responses.values())

    def contact_keys(self, order_by: str) -> list[tuple[Any, ...]]:
        """Sorted keys of every contact in one list order."""
        index = self.contact_index[order_by]
        if not index.ready:
            index.rebuild(self.contacts.values())
        return index.keys

    def reindex_contact(self, contact: Contact) -> None:
        """Move a contact in every order after one of its sort fields changed."""
        for index in self.contact_index.values():
            index.upsert(contact)

    # ----------------------------------------------------------------- contacts
    def add_contact(self, contact: Contact, *, index: bool = True) -> Contact:
        """Register a contact in every lookup map."""
        self.contacts[contact.seq] = contact
        self.contacts_by_uuid[contact.uuid] = contact
        if contact.remote_id is not None:
            self.contacts_by_remote_id[contact.remote_id] = contact
        if contact.email:
            self.contacts_by_email.setdefault(contact.email.lower(), []).append(contact)
        if index:
            self.reindex_contact(contact)
        return contact

    def find_contact(
        self, remote_id: str | None = None, email: str | None = None, uuid: str | None = None
    ) -> Contact | None:
        """Look a contact up by the first identifier given (id, then email, then uuid)."""
        if remote_id is not None:
            return self.contacts_by_remote_id.get(remote_id)
        if email is not None:
            found = self.contacts_by_email.get(email.lower())
            return found[0] if found else None
        if uuid is not None:
            return self.contacts_by_uuid.get(uuid)
        return None

    def find_or_create_contact(self, remote_id: str | None, email: str | None) -> Contact:
        """Resolve a user the way write endpoints do: unknown users are created."""
        contact = self.find_contact(remote_id=remote_id) if remote_id is not None else None
        if contact is None and email is not None:
            by_email = self.find_contact(email=email)
            # An email-only contact is adopted by the first call that also carries its id.
            if by_email is not None and (remote_id is None or by_email.remote_id is None):
                contact = by_email
                if remote_id is not None:
                    contact.remote_id = remote_id
                    self.contacts_by_remote_id[remote_id] = contact
        if contact is None:
            at = timefmt.now()
            contact = self.add_contact(
                Contact(
                    seq=self.next_seq(),
                    uuid=self.new_uuid(),
                    remote_id=remote_id,
                    email=email,
                    display_name=None,
                    first_seen_at=at,
                    last_seen_at=at,
                )
            )
        elif email is not None and contact.email != email:
            self._set_email(contact, email)
        return contact

    def _set_email(self, contact: Contact, email: str) -> None:
        if contact.email:
            peers = self.contacts_by_email.get(contact.email.lower(), [])
            if contact in peers:
                peers.remove(contact)
            if not peers:
                self.contacts_by_email.pop(contact.email.lower(), None)
        contact.email = email
        self.contacts_by_email.setdefault(email.lower(), []).append(contact)

    def touch(self, contact: Contact) -> None:
        """Mark the contact as seen now."""
        contact.last_seen_at = timefmt.now()
        self.reindex_contact(contact)

    def identify(
        self,
        remote_id: str | None,
        email: str | None,
        traits: dict[str, Any],
        account: dict[str, Any] | None,
    ) -> Contact:
        """Upsert a contact with already validated traits (POST /identify-user)."""
        contact = self.find_or_create_contact(remote_id, email)
        contact.attributes.update(traits)
        name = traits.get("name")
        if isinstance(name, str) and name:
            contact.display_name = name
        if account is not None:
            contact.account = self.upsert_account(account)
        contact.identify_count += 1
        self.touch(contact)
        return contact

    def upsert_account(self, fields: dict[str, Any]) -> Account:
        """Create or update the account named by ``fields["id"]`` (already validated)."""
        remote_id = str(fields["id"])
        at = timefmt.now()
        account = self.accounts_by_remote_id.get(remote_id)
        if account is None:
            account = Account(
                seq=self.next_seq(),
                uuid=self.new_uuid(),
                remote_id=remote_id,
                display_name=None,
                domain=None,
                first_seen_at=at,
                last_seen_at=at,
            )
            self.accounts_by_remote_id[remote_id] = account
        for key, value in fields.items():
            if key == "id":
                continue
            if key == "name":
                account.display_name = None if value is None else str(value)
            elif key == "domain":
                account.domain = None if value is None else str(value)
            else:
                account.attributes[key] = value
        account.last_seen_at = at
        return account

    def track(self, remote_id: str | None, email: str | None, event: str) -> Event:
        """Record an event; an unknown user is created (POST /track-event)."""
        contact = self.find_or_create_contact(remote_id, email)
        at = timefmt.now()
        contact.last_tracking_event_at = at
        self.touch(contact)
        record = Event(
            seq=len(self.events) + 1,
            user_id=contact.remote_id,
            email=contact.email,
            event=event,
            time=float(at),
            contact_uuid=contact.uuid,
        )
        self.events.append(record)
        return record

    def delete_contact(self, contact: Contact) -> int:
        """Delete a contact and, as Refiner does, all of its responses. Returns that count."""
        for index in self.contact_index.values():
            index.discard(contact)
        self.contacts.pop(contact.seq, None)
        self.contacts_by_uuid.pop(contact.uuid, None)
        if contact.remote_id is not None:
            self.contacts_by_remote_id.pop(contact.remote_id, None)
        if contact.email:
            peers = self.contacts_by_email.get(contact.email.lower(), [])
            if contact in peers:
                peers.remove(contact)
            if not peers:
                self.contacts_by_email.pop(contact.email.lower(), None)
        responses = self.responses_by_contact.pop(contact.seq, [])
        for response in responses:
            self.responses.pop(response.seq, None)
            self.responses_by_uuid.pop(response.uuid, None)
            self.response_by_reception.discard(response)
            self.response_by_shown.discard(response)
        return len(responses)

    # ----------------------------------------------------------------- responses
    def add_response(self, response: Response, *, index: bool = True) -> Response:
        """Register a response and update the contact's derived fields."""
        self.responses[response.seq] = response
        self.responses_by_uuid[response.uuid] = response
        self.responses_by_contact.setdefault(response.contact.seq, []).append(response)
        contact = response.contact
        contact.views_count += 1
        contact.last_form_view_at = max(contact.last_form_view_at or 0, response.last_shown_at)
        if response.completed_at is not None:
            contact.submissions_count += 1
            contact.last_form_submission_at = max(
                contact.last_form_submission_at or 0, response.completed_at
            )
        for key, value in response.data.items():
            contact.attributes[key] = value
        if index:
            self.response_by_reception.upsert(response)
            self.response_by_shown.upsert(response)
            self.reindex_contact(contact)
        return response

    def find_duplicate(self, form: Form, contact: Contact, data: dict[str, Any]) -> Response | None:
        """An existing response of this contact to this form with identical answers."""
        for response in self.responses_by_contact.get(contact.seq, []):
            if response.form is form and response.data == data:
                return response
        return None

    def store_response(
        self,
        form: Form,
        contact: Contact,
        data: dict[str, Any],
        at: int,
        tags: list[str],
    ) -> Response:
        """Create a completed response as POST /responses does."""
        received = timefmt.now()
        response = Response(
            seq=self.next_seq(),
            uuid=self.new_uuid(),
            form=form,
            contact=contact,
            first_shown_at=at,
            last_shown_at=at,
            show_counter=1,
            first_data_reception_at=at,
            last_data_reception_at=at,
            completed_at=at,
            dismissed_at=None,
            received_at=received,
            data=dict(data),
            tags=[self.tag(name) for name in dict.fromkeys(tags)],
        )
        self.add_response(response)
        self.touch(contact)
        return response

    def tag(self, name: str) -> Tag:
        """The project-wide tag called ``name``, created on first use."""
        found = self.tags_by_name.get(name)
        if found is None:
            found = Tag(uuid=self.new_uuid(), name=name)
            self.tags_by_name[name] = found
            self.tags_by_uuid[found.uuid] = found
        return found

    def tag_response(self, response: Response, names: list[str]) -> list[Tag]:
        """Add tags idempotently; returns the tags that were new on this response."""
        have = {t.name for t in response.tags}
        added = []
        for name in dict.fromkeys(names):
            if name not in have:
                tag = self.tag(name)
                response.tags.append(tag)
                added.append(tag)
        return added

    # ----------------------------------------------------------------- segments
    def sync_segment(self, segment: Segment, contact: Contact, *, add: bool) -> bool:
        """Add or remove membership; returns True when the contact newly entered."""
        at = timefmt.now()
        if add:
            entry = contact.segments.get(segment.uuid)
            if entry is not None:
                entry[1] = at
                return False
            contact.segments[segment.uuid] = [at, at]
            return True
        contact.segments.pop(segment.uuid, None)
        return False

    # ----------------------------------------------------------------- forms
    def snapshot(self, form: Form) -> dict[str, Any]:
        """The config captured in a history row."""
        return {
            "name": form.name,
            "form_elements": [dict(e) for e in form.elements],
            "published": form.published_at is not None,
            "archived": form.archived_at is not None,
        }

    def log_form(self, form: Form, action: str, at: int | None = None) -> None:
        """Append a history row with the form's current config."""
        form.history.append(
            HistoryEntry(
                seq=self.next_seq(),
                uuid=self.new_uuid(),
                action=action,
                snapshot=self.snapshot(form),
                created_at=timefmt.now() if at is None else at,
            )
        )

    def add_form(self, form: Form) -> Form:
        """Register a form."""
        self.forms[form.uuid] = form
        return form

    def publish_form(self, form: Form, *, published: bool) -> None:
        """Publish or unpublish (POST /forms/publish)."""
        at = timefmt.now()
        form.published_at = (form.published_at or at) if published else None
        form.updated_at = at
        self.log_form(form, "publish" if published else "unpublish", at)

    def duplicate_form(self, form: Form, name: str) -> Form:
        """Copy a form into a new draft (POST /forms/duplicate)."""
        at = timefmt.now()
        copy = Form(
            seq=self.next_seq(),
            uuid=self.new_uuid(),
            name=name,
            elements=[dict(e) for e in form.elements],
            channels=list(form.channels),
            created_at=at,
            updated_at=at,
            published_at=None,
            archived_at=None,
        )
        self.add_form(copy)
        self.log_form(copy, "create", at)
        return copy

    def archive_form(self, form: Form) -> None:
        """Archive instead of deleting (DELETE /forms)."""
        at = timefmt.now()
        if form.archived_at is None:
            form.archived_at = at
            form.updated_at = at
            self.log_form(form, "archive", at)
