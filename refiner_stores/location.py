"""A store's location as a setting holds it: a SQLite file path, or a ``postgresql://`` URL.

A URL may carry a password (``postgresql://user:secret@host/db`` or ``?password=secret``): it is
a secret like the API key, so it is shown only through :func:`masked`, and :func:`url_password`
gives it to the redactors that keep it out of logs and errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
MASK = "***"
_USER_PASSWORD = re.compile(r"^([a-z]+://[^:/@?#]*:)[^@/?#]*@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def is_postgres(value: str | None) -> bool:
    """Whether ``value`` names a PostgreSQL database rather than a file."""
    return bool(value) and str(value).lower().startswith(POSTGRES_SCHEMES)


def url_password(value: str | None) -> str | None:
    """The password a PostgreSQL URL carries (in its user part or as ``?password=``), if any."""
    if not is_postgres(value):
        return None
    parts = urlsplit(str(value))
    if parts.password:
        return unquote(parts.password)
    for key, found in parse_qsl(parts.query):
        if key == "password" and found:
            return found
    return None


def masked(value: str) -> str:
    """``value`` fit for a log line: a URL's password, wherever it sits, as ``***``."""
    if not is_postgres(value):
        return value
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", _USER_PASSWORD.sub(rf"\g<1>{MASK}@", value))


def shown(value: str) -> str:
    """A store's location as a log line may show it: a URL masked, a path made absolute."""
    return masked(value) if is_postgres(value) else str(Path(value).expanduser().resolve())
