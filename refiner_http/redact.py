"""Secret redaction: API keys and webhook tokens must never reach logs, errors or files."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary text
# Key-shaped query parameters are masked even when the secret itself is unknown.
_QUERY_SECRET = re.compile(r"(?i)\b(api_key|token|secret)=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


class Redactor:
    """Replaces known secrets (and anything shaped like a credential) with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        """Remember the secrets; short or empty values are ignored to avoid masking noise."""
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True
        )

    def add(self, secret: str | None) -> None:
        """Register one more secret to mask."""
        if secret and len(secret) >= MIN_SECRET_CHARS and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
        return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)

    def logging_filter(self) -> logging.Filter:
        """A filter that redacts every record passing through a handler or logger."""
        redact = self

        class _RedactingFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.msg = redact(record.getMessage())
                record.args = None
                return True

        return _RedactingFilter()
