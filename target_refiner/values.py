"""What Refiner's traits accept (string, number, boolean, date), as pure functions.

- dates and datetimes become ISO 8601 strings; numbers stay numbers; booleans stay booleans;
  ``null`` stays ``null`` (it clears the trait);
- nested objects are flattened, keys joined with ``_``: ``{"address": {"city": "Oslo"}}`` becomes
  the trait ``address_city``;
- arrays are rejected (Refiner has no array traits and joining would silently change meaning);
  drop such fields with ``exclude`` or list the wanted ones in ``attributes``;
- strings longer than 255 characters are rejected, or cut to 255 with ``truncate_long_strings``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

MAX_STRING_CHARS = 255


class RowError(ValueError):
    """A row cannot become an API call; the message is the dead-letter reason."""


def convert_value(name: str, value: Any, *, truncate: bool) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
    """One scalar as Refiner accepts it; raises RowError with the reason otherwise."""
    kind = type(value)
    if kind is str and len(value) <= MAX_STRING_CHARS:
        return value  # the common cases first: a re-sync maps every row
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"field '{name}' is {value}, which is not a JSON number"
            raise RowError(msg)
        return value
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            msg = f"field '{name}' is {value}, which is not a JSON number"
            raise RowError(msg)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            if truncate:
                return value[:MAX_STRING_CHARS]
            msg = (
                f"field '{name}' is {len(value)} characters; Refiner caps strings at "
                f"{MAX_STRING_CHARS} (turn on truncate_long_strings to cut them)"
            )
            raise RowError(msg)
        return value
    if isinstance(value, (list, tuple)):
        msg = (
            f"field '{name}' is an array; Refiner traits are scalars "
            "(leave it out with `exclude` or pick fields with `attributes`)"
        )
        raise RowError(msg)
    msg = f"field '{name}' has unsupported type {type(value).__name__}"
    raise RowError(msg)


def flatten(name: str, value: Any, *, truncate: bool, out: dict[str, Any]) -> None:  # noqa: ANN401
    """Put ``value`` into ``out``; nested objects become ``parent_child`` keys."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{name}_{key}", inner, truncate=truncate, out=out)
        return
    out[name] = convert_value(name, value, truncate=truncate)
