"""Secret redaction: API keys and webhook tokens must never reach logs, errors or files.

Two modes. Log lines and error messages (``Redactor.__call__``) also mask anything shaped like a
credential (``token=...``, ``Bearer ...``): they quote URLs and headers, where an unknown secret
may hide. Data files (``mask_known``) mask only the configured secrets: a row's "Basic Monthly"
plan or a URL with ``token=`` in a field is data, and the file must keep it as it arrived.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary text
# Key-shaped query parameters are masked even when the secret itself is unknown.
_QUERY_SECRET = re.compile(r"(?i)\b(api_key|token|secret)=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


class Redactor:
    """Replaces known secrets (and, in log text, anything shaped like a credential) with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        """Remember the secrets; short or empty values are ignored to avoid masking noise."""
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True
        )

    @classmethod
    def for_settings(cls, config: Mapping[str, Any], schema: Mapping[str, Any]) -> Redactor:
        """The values of every setting the plugin's JSON schema marks ``secret``."""
        properties = schema.get("properties", {})
        return cls(
            config[name]
            for name, spec in properties.items()
            if spec.get("secret") and isinstance(config.get(name), str)
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The known secrets, longest first (so a secret inside another is masked whole)."""
        return tuple(self._secrets)

    def add(self, secret: str | None) -> None:
        """Register one more secret to mask."""
        if secret and len(secret) >= MIN_SECRET_CHARS and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def mask_known(self, text: str) -> str:
        """Return ``text`` with the known secrets masked, and nothing else changed."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(self, text: str) -> str:
        """Return log or error ``text`` with known secrets and credential-shaped text masked."""
        text = self.mask_known(text)
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
