"""Deterministic fake data: the same seed always yields the same project.

Dates are spread over the ~90 days before a reference time derived from the seed (not from the
clock), so two runs with one seed are identical. Generation uses simple arithmetic and one
``random.Random`` so that 100k contacts take well under a second or two.
"""

from __future__ import annotations

import random
from typing import Any

from refiner_emulator.store import Account, Contact, Form, Response, Segment, Store, make_uuid

REFERENCE_BASE = 1_780_272_000  # 2026-06-01T00:00:00Z
DAY = 86_400
SPREAD_DAYS = 90
# Shares of seeded responses: completed, partial, dismissed view; the rest are plain views.
SHARE_COMPLETED, SHARE_PARTIAL, SHARE_DISMISSED = 0.72, 0.13, 0.08
SHARE_TAGGED = 0.15
NPS_AS_STRING = 0.4
ACCOUNT_EVERY = 3  # two contacts in three belong to an account

FIRST_NAMES = (
    "Jane",
    "John",
    "Maria",
    "Ahmed",
    "Yuki",
    "Olga",
    "Pedro",
    "Chen",
    "Aisha",
    "Lars",
    "Fatima",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Ivan",
    "Mei",
    "Omar",
    "Zoe",
    "Raj",
)
LAST_NAMES = (
    "Doe",
    "Smith",
    "Garcia",
    "Khan",
    "Tanaka",
    "Petrova",
    "Silva",
    "Wang",
    "Bello",
    "Nilsson",
    "Haddad",
    "Brown",
    "Jones",
    "Miller",
    "Rossi",
    "Novak",
    "Lee",
    "Ali",
    "Martin",
    "Patel",
)
COMPANIES = (
    "Awesome Inc.",
    "Globex",
    "Initech",
    "Umbrella Corp",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Acme Corp",
    "Soylent",
    "Vandelay Industries",
)
PLANS = ("free", "starter", "growth", "enterprise")
ROLES = ("Manager", "Developer", "Designer", "Founder", "Analyst")
SOURCES = ("organic", "ads", "referral", "partner")
TAGS = ("bug", "pricing", "feature-request", "praise")
TEXTS = (
    "Great product, keep it up",
    "Too expensive for a small team",
    "The dashboard is confusing",
    "Support was very helpful",
    "I miss an export to CSV",
    "Works as expected",
)


def _q(qid: str, qtype: str, text: str, options: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": qid,
        "type": qtype,
        "text": text,
        "required": qtype != "text",
        "options": options or [],
    }


FORM_TEMPLATES: tuple[tuple[str, list[dict[str, Any]]], ...] = (
    (
        "Net Promoter Score",
        [
            _q("nps_score", "nps", "How likely are you to recommend us to a friend?"),
            _q("nps_reason", "text", "What is the main reason for your score?"),
        ],
    ),
    (
        "Customer Satisfaction",
        [
            _q("csat_score", "csat", "How satisfied are you with our service?"),
            _q("csat_comment", "text", "Anything we could do better?"),
        ],
    ),
    (
        "Feature Feedback",
        [
            _q("feature_rating", "rating", "How would you rate the new reports?"),
            _q(
                "favourite_feature",
                "multiple_choice",
                "Which feature do you use most?",
                ["Reports", "Dashboards", "Alerts", "Integrations"],
            ),
            _q("feature_comment", "text", "What should we build next?"),
        ],
    ),
    (
        "Customer Churn Survey",
        [
            _q(
                "why_did_you_cancel_your_subscription",
                "multiple_choice",
                "Why did you cancel your subscription?",
                ["Pricing", "Missing features", "Switched to a competitor", "Other"],
            ),
            _q("churn_details", "text", "Tell us more"),
        ],
    ),
    (
        "Onboarding Check-in",
        [
            _q("onboarding_ease", "rating", "How easy was it to get started?"),
            _q(
                "job_role",
                "multiple_choice",
                "What describes your role best?",
                ["Engineering", "Product", "Marketing", "Sales"],
            ),
            _q("onboarding_nps", "nps", "How likely are you to recommend us?"),
        ],
    ),
    (
        "Product Market Fit",
        [
            _q(
                "how_disappointed",
                "multiple_choice",
                "How would you feel if you could no longer use the product?",
                ["Very disappointed", "Somewhat disappointed", "Not disappointed"],
            ),
            _q("main_benefit", "text", "What is the main benefit you receive?"),
        ],
    ),
)
# Status by template position: 0-3 published, 4 draft, 5 archived (with old responses).
FORM_STATUS = ("published", "published", "published", "published", "draft", "archived")

SEGMENT_TEMPLATES = (
    ("All Users", False),
    ("Beta Testers", True),
    ("Power Users", False),
    ("Churn Risk", True),
    ("Enterprise Accounts", False),
)


def reference_time(seed: int) -> int:
    """The fixed "now" of the seeded data (a day in mid-2026 chosen by the seed)."""
    return REFERENCE_BASE + (seed % 97) * DAY


def recent_reference_time(now: int) -> int:
    """A "now" for data that ends an hour before ``now`` (the start of the previous hour).

    With it the seeded 90 days are the latest ones, so reports and "last 30 days" figures have
    data (the demo and the dbt tests); no seeded time lies in the future (a response is received
    at most 10 minutes after it was shown).
    """
    return now // 3600 * 3600 - 3600


def _answer(rng: random.Random, question: dict[str, Any]) -> Any:  # noqa: ANN401 - JSON scalar
    qtype = question["type"]
    if qtype == "nps":
        score = min(10, max(0, int(rng.triangular(0, 11, 9))))
        # NPS answers often arrive as strings (GAS parses data.nps with parseInt).
        return str(score) if rng.random() < NPS_AS_STRING else score
    if qtype in {"csat", "rating"}:
        return min(5, max(1, int(rng.triangular(1, 6, 4.5))))
    if qtype == "multiple_choice":
        return rng.choice(question["options"])
    return rng.choice(TEXTS)


def _forms(store: Store, rng: random.Random, count: int, ref: int) -> list[Form]:
    forms = []
    for i in range(count):
        name, elements = FORM_TEMPLATES[i % len(FORM_TEMPLATES)]
        if i >= len(FORM_TEMPLATES):
            name = f"{name} #{i // len(FORM_TEMPLATES) + 1}"
        status = FORM_STATUS[i % len(FORM_STATUS)]
        created = ref - (SPREAD_DAYS + 30) * DAY + i * DAY + rng.randrange(DAY)
        form = Form(
            seq=store.next_seq(),
            uuid=make_uuid(rng),
            name=name,
            elements=[dict(e) for e in elements],
            channels=["web"] if i % 3 else ["web", "email"],
            created_at=created,
            updated_at=created + DAY,
            published_at=None if status == "draft" else created + 2 * DAY,
            archived_at=ref - 20 * DAY if status == "archived" else None,
        )
        store.add_form(form)
        store.log_form(form, "create", created)
        store.log_form(form, "update", created + DAY)
        if form.published_at is not None:
            store.log_form(form, "publish", form.published_at)
        if form.archived_at is not None:
            store.log_form(form, "archive", form.archived_at)
        forms.append(form)
    return forms


def _segments(store: Store, rng: random.Random, count: int) -> list[Segment]:
    segments = []
    for i in range(count):
        name, manual = SEGMENT_TEMPLATES[i % len(SEGMENT_TEMPLATES)]
        if i >= len(SEGMENT_TEMPLATES):
            name = f"{name} {i // len(SEGMENT_TEMPLATES) + 1}"
        segment = Segment(uuid=make_uuid(rng), name=name, is_manual=manual)
        store.segments[segment.uuid] = segment
        segments.append(segment)
    return segments


def _accounts(store: Store, rng: random.Random, count: int, ref: int) -> list[Account]:
    accounts = []
    for j in range(count):
        company = COMPANIES[j % len(COMPANIES)]
        suffix = "" if j < len(COMPANIES) else f" {j // len(COMPANIES) + 1}"
        first = ref - rng.randrange(SPREAD_DAYS * DAY)
        slug = company.lower().replace(" ", "").replace(".", "")
        account = Account(
            seq=store.next_seq(),
            uuid=make_uuid(rng),
            remote_id=f"acct-{j + 1:05d}",
            display_name=company + suffix,
            domain=None if j % 4 == 0 else f"{slug}{j + 1}.example.com",
            first_seen_at=first,
            last_seen_at=first + rng.randrange(ref - first + 1),
            attributes={"industry": ROLES[j % len(ROLES)], "seats": 5 + j % 50},
        )
        store.accounts_by_remote_id[account.remote_id] = account
        accounts.append(account)
    return accounts


def _contacts(
    store: Store,
    rng: random.Random,
    count: int,
    accounts: list[Account],
    segments: list[Segment],
) -> list[Contact]:
    contacts: list[Contact] = []
    ref = store.reference_time
    spread = SPREAD_DAYS * DAY
    auto_segments = [s for s in segments if not s.is_manual]
    manual_segments = [s for s in segments if s.is_manual]
    getbits = rng.getrandbits
    for i in range(count):
        bits = getbits(64)
        first_seen = ref - (bits & 0xFFFFFF) % spread
        last_seen = first_seen + ((bits >> 24) & 0xFFFFFF) % (ref - first_seen + 1)
        first = FIRST_NAMES[(bits >> 48) % len(FIRST_NAMES)]
        last = LAST_NAMES[(bits >> 52) % len(LAST_NAMES)]
        number = i + 1
        email: str | None = f"{first}.{last}{number}@example.com".lower()
        if number % 50 == 0:
            email = None
        elif number % 500 == 1 and contacts and contacts[-1].email:
            email = contacts[-1].email  # several contacts may share an email
        contact = Contact(
            seq=store.next_seq(),
            uuid=make_uuid(rng),
            remote_id=None if number % 25 == 0 else f"user-{number:06d}",
            email=email,
            display_name=None if number % 30 == 0 else f"{first} {last}",
            first_seen_at=first_seen,
            last_seen_at=last_seen,
            attributes={
                "plan": PLANS[bits % 4],
                "role": ROLES[(bits >> 2) % 5],
                "signup_source": SOURCES[(bits >> 5) % 4],
                "logins_count": (bits >> 7) % 200,
                "is_admin": (bits >> 15) % 7 == 0,
            },
            account=accounts[number % len(accounts)]
            if accounts and number % ACCOUNT_EVERY
            else None,
            identify_count=1,
        )
        entered = first_seen + 60
        for k, segment in enumerate(auto_segments):
            if k == 0 or (bits >> (40 + k)) & 3 == 0:
                contact.segments[segment.uuid] = [entered, entered]
        for k, segment in enumerate(manual_segments):
            if (bits >> (30 + k)) & 7 == 0:
                contact.segments[segment.uuid] = [entered + 3600, entered + 3600]
        store.add_contact(contact, index=False)
        contacts.append(contact)
    return contacts


def _responses(
    store: Store,
    rng: random.Random,
    count: int,
    forms: list[Form],
    contacts: list[Contact],
) -> None:
    answerable = [f for f in forms if f.published_at is not None] or forms
    if not answerable or not contacts:
        return
    spread = SPREAD_DAYS * DAY
    ref = store.reference_time
    for _ in range(count):
        form = answerable[rng.randrange(len(answerable))]
        contact = contacts[rng.randrange(len(contacts))]
        shown = ref - rng.randrange(spread)
        shown = max(shown, contact.first_seen_at)
        kind = rng.random()
        data: dict[str, Any] = {}
        reception = completed = dismissed = None
        if kind < SHARE_COMPLETED:
            data = {q["id"]: _answer(rng, q) for q in form.elements}
            reception = completed = shown + rng.randrange(30, 600)
        elif kind < SHARE_COMPLETED + SHARE_PARTIAL:  # partial: first question only
            data = {form.elements[0]["id"]: _answer(rng, form.elements[0])}
            reception = shown + rng.randrange(10, 300)
        elif kind < SHARE_COMPLETED + SHARE_PARTIAL + SHARE_DISMISSED:
            dismissed = shown + rng.randrange(2, 60)
        counter = 1 + rng.randrange(3)
        first_shown = shown - (counter - 1) * rng.randrange(DAY)
        response = Response(
            seq=store.next_seq(),
            uuid=make_uuid(rng),
            form=form,
            contact=contact,
            first_shown_at=first_shown,
            last_shown_at=shown,
            show_counter=counter,
            first_data_reception_at=reception,
            last_data_reception_at=reception,
            completed_at=completed,
            dismissed_at=dismissed,
            received_at=reception,
            data=data,
            tags=[store.tag(TAGS[rng.randrange(len(TAGS))])]
            if data and rng.random() < SHARE_TAGGED
            else [],
        )
        store.add_response(response, index=False)


def build_store(  # noqa: PLR0913 - keyword-only size knobs and the reference
    seed: int = 1,
    *,
    contacts: int = 200,
    responses: int = 500,
    forms: int = 6,
    segments: int = 5,
    reference: int | None = None,
) -> Store:
    """Create and fill a store; identical arguments give identical data.

    ``reference`` replaces the seed's fixed "now" (``recent_reference_time``); the data is the
    same, shifted in time.
    """
    ref = reference_time(seed) if reference is None else reference
    store = Store(seed, ref)
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not security
    form_list = _forms(store, rng, forms, ref)
    segment_list = _segments(store, rng, segments)
    accounts = _accounts(store, rng, max(1, contacts // 8), ref) if contacts else []
    contact_list = _contacts(store, rng, contacts, accounts, segment_list)
    _responses(store, rng, responses, form_list, contact_list)
    for tag in TAGS:  # every seeded tag exists even if no response drew it
        store.tag(tag)
    store.rebuild_indexes()
    return store
