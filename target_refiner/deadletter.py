"""Dead-letter and dry-run files: one JSON object per line, appended, secrets masked.

Rejected rows are written here instead of stopping the run, with the reason (and the API's
status and body when Refiner refused the call), so they can be fixed and replayed.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from refiner_http import Redactor


def _default(value: Any) -> Any:  # noqa: ANN401 - whatever a record holds
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class JsonLines:
    """A thread-safe, append-only JSONL file that masks secrets in every line."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        """Open lazily: a run without rejections leaves no file behind."""
        self.path = path
        self.count = 0
        self._redact = redactor
        self._lock = threading.Lock()
        self._file: Any = None

    def write(self, obj: dict[str, Any]) -> None:
        """Append one object and flush it (so a crash loses at most the line being written)."""
        line = self._redact(json.dumps(obj, default=_default, ensure_ascii=False))
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()
            self.count += 1

    def close(self) -> None:
        """Close the file if it was opened."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class DeadLetter(JsonLines):
    """Rows that could not be applied, with why."""

    def reject(
        self,
        stream: str,
        record: dict[str, Any],
        reason: str,
        *,
        status: int | None = None,
        body: Any = None,  # noqa: ANN401 - the API's JSON or text
    ) -> None:
        """Write one rejected row."""
        entry: dict[str, Any] = {"stream": stream, "record": record, "reason": reason}
        if status is not None:
            entry["status"] = status
            entry["body"] = body
        entry["time"] = dt.datetime.now(dt.timezone.utc).isoformat()
        self.write(entry)
