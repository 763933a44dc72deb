"""A mapping that cannot work is refused before its stream's first call: the columns it names.

Every column a stream's mapping names (``user_id``, ``email``, ``event``, ``attributes``,
``exclude``, ``account.*``, ``segment_uuid_field``) is looked up in the stream's columns, after
stream maps (the sink's schema is the mapped one). A misspelt name would otherwise dead-letter
every row ("no user id") and exit 0, or quietly send rows by email alone and turn the intended
user id into a trait.

Which columns a stream has:

- its schema's ``properties``, when it lists some and does not allow others
  (``additionalProperties`` absent or false): Singer's convention, and loaders keep only those;
- otherwise (no properties, or ``additionalProperties`` true or a schema) the first row decides:
  a named column must be a key of it. A key present with ``null`` counts (the column exists,
  this row has no value); a key left out does not, so a writer that drops null keys needs the
  column declared in the schema.

An unmapped stream (``default_action`` identify or delete_contact) needs at least one of the
default identity columns (``id``, ``user_id``, ``email``). The SDK's ``_sdc_*`` columns are not
checked. A stop names the setting, the missing
column and the columns the stream has, and is raised after the calls already submitted for other
streams are acknowledged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from target_refiner.errors import RunStoppedError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from target_refiner.mapping_settings import StreamMapping

#: The SDK's bookkeeping columns (``_sdc_*``): present or stripped depending on the SDK's
#: settings, never traits (``mapping.traits_of``), so naming one (e.g. in ``exclude``) is fine.
SDK_METADATA_PREFIX = "_sdc_"
#: How many columns a message lists before eliding the rest.
SHOWN_COLUMNS = 30


class MappingColumnsError(RunStoppedError):
    """The mapping names a column the stream does not have."""


def named_columns(mapping: StreamMapping) -> list[tuple[str, str]]:
    """``(setting, column)`` for every column the mapping reads, setting relative to its entry."""
    named = [("user_id", c) for c in mapping.user_id] + [("email", c) for c in mapping.email]
    for setting, column in (
        ("event", mapping.event),
        ("segment_uuid_field", mapping.segment_uuid_field),
    ):
        if column:
            named.append((setting, column))
    named += [("attributes", c) for c in mapping.attributes or ()]
    named += [("exclude", c) for c in sorted(mapping.exclude)]
    if mapping.account:
        named.append(("account.id", mapping.account.id))
        if mapping.account.name:
            named.append(("account.name", mapping.account.name))
        named += [("account.attributes", c) for c in mapping.account.attributes]
    return named


def declared_columns(schema: dict[str, Any]) -> frozenset[str] | None:
    """The schema's columns when it can tell them (see the module doc), else None."""
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties", False)
    if not properties or (extra is not False and extra is not None):
        return None
    return frozenset(properties)


def _shown(columns: Iterable[str]) -> str:
    names = sorted(columns)
    more = f", … {len(names) - SHOWN_COLUMNS} more" if len(names) > SHOWN_COLUMNS else ""
    return ", ".join(names[:SHOWN_COLUMNS]) + more if names else "none"


class ColumnCheck:
    """One sink's check: at its SCHEMA when the schema can tell, else on its first row."""

    def __init__(self, stream: str, mapping: StreamMapping, *, default: bool) -> None:
        """``default``: the stream has no ``mappings`` entry (``default_action`` applies)."""
        self.stream = stream
        self.mapping = mapping
        self.default = default
        self.pending = True

    def check_schema(self, schema: dict[str, Any]) -> None:
        """Check against the schema's columns; when it cannot tell, wait for the first row."""
        columns = declared_columns(schema)
        if columns is not None:
            self._check(columns, "its schema's columns")

    def check_row(self, record: dict[str, Any]) -> None:
        """The first row: check its keys (only when the schema could not tell)."""
        self._check(frozenset(record), "the columns of its first row (its schema lists none)")

    def _check(self, columns: frozenset[str], where: str) -> None:
        self.pending = False
        if self.default:
            wanted = {*self.mapping.user_id, *self.mapping.email}
            if not wanted & columns:
                ids, emails = map(self._names, (self.mapping.user_id, self.mapping.email))
                msg = (
                    f"Stream '{self.stream}' has no entry in `mappings`, so `default_action` "
                    f"({self.mapping.action}) reads the user id from {ids} or the email from "
                    f"{emails}, and it has none of them ({where}: {_shown(columns)}). Add "
                    f"`mappings.{self.stream}` naming its columns; nothing was sent for this "
                    "stream."
                )
                raise MappingColumnsError(msg)
            return
        for setting, column in named_columns(self.mapping):
            if column not in columns and not column.startswith(SDK_METADATA_PREFIX):
                msg = (
                    f"Setting `mappings.{self.stream}.{setting}` names column '{column}', which "
                    f"stream '{self.stream}' does not have ({where}: {_shown(columns)}). "
                    "Nothing was sent for this stream."
                )
                raise MappingColumnsError(msg)

    @staticmethod
    def _names(columns: tuple[str, ...]) -> str:
        return " or ".join(f"`{c}`" for c in columns)
