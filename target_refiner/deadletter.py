"""Dead-letter and dry-run files: one strict JSON object per line, secrets masked.

Rejected rows are written here instead of stopping the run, with the reason (and the API's
status and body when Refiner refused the call), so they can be fixed and replayed. Conventions:

- Every line starts with the ``run_id`` of the run that wrote it (``new_run_id``: start time
  and a random part, logged at the start of the run). The dead-letter file is appended to
  across runs, so a run's rejections are the lines with its id; to rotate it, move it away.
  The dry-run file is written afresh by each dry run: it shows that run's calls.

- ``record`` is the row exactly as it arrived at the target (the RECORD message's ``record`` or
  the BATCH file's line), before stream maps and the SDK's parsing: a field a stream map drops is
  still there, so the row can be replayed as it was sent.
- Every line is strict JSON (``json.dumps(..., allow_nan=False)``). NaN, Infinity and -Infinity,
  which Python's and the SDK's JSON readers accept, are written as the strings ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"``, and ``reason`` says so: ``field 'score' was NaN, written as
  the string "NaN"`` (fields are named from inside ``record``; ``body.x`` for the API's body).
  Decimals are written as numbers (as a string with every digit when a float cannot hold them),
  dates and times as ISO 8601 strings.
- Only the configured secrets (settings marked ``secret``, such as ``api_key``) are masked, as
  ``***`` inside the strings (values and keys) that hold them, so every line stays valid JSON.
  Nothing is masked by shape: "Basic Monthly" or a URL with ``token=`` in a row stay as they were.

The common line (finite numbers, no secret in it) is serialised once and not copied.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import math
import secrets
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from refiner_http import Redactor


def _default(value: Any) -> Any:  # noqa: ANN401 - whatever a record holds
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            msg = "not a JSON number"
            raise ValueError(msg)  # _clean rewrites it as a documented string
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
    return str(value)


#: One encoder for every line (``json.dumps`` with these options builds a new one per call).
_ENCODER = json.JSONEncoder(allow_nan=False, default=_default, ensure_ascii=False)


def _dumps(obj: Any) -> str:  # noqa: ANN401
    return _ENCODER.encode(obj)


#: ``_dumps`` of one string (the C function ``_ENCODER`` itself uses).
_string = json.encoder.encode_basestring


def _non_finite(value: Any) -> str | None:  # noqa: ANN401
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` for such a float or Decimal, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("-Infinity" if value.is_signed() else "Infinity")
    return None


def _clean(
    value: Any,  # noqa: ANN401
    path: tuple[str, ...],
    notes: list[str],
    mask: Callable[[str], str],
) -> Any:  # noqa: ANN401
    """A copy strict JSON can hold, secrets masked; ``notes`` say which values were rewritten."""
    if isinstance(value, dict):
        return {
            mask(k) if isinstance(k, str) else k: _clean(v, (*path, str(k)), notes, mask)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_clean(v, (*path, str(i)), notes, mask) for i, v in enumerate(value)]
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool):
        return value
    name = _non_finite(value)
    if name is not None:
        field = ".".join(path[1:] if path[:1] == ("record",) else path)
        notes.append(f"field '{mask(field)}' was {name}, written as the string \"{name}\"")
        return name
    plain = _default(value) if not isinstance(value, (int, float)) else value
    text = plain if isinstance(plain, str) else str(plain)
    masked = mask(text)
    return masked if masked != text else plain


def new_run_id() -> str:
    """``20261207T013015Z-3fa2c1``: when the run started (UTC), and a random part."""
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{started}-{secrets.token_hex(3)}"


def masked_line(obj: dict[str, Any], redactor: Redactor) -> str:
    """``obj`` as one line of strict JSON with the known secrets masked (see the module doc).

    Serialised once when it is finite and holds no secret; otherwise rebuilt by ``_clean``.
    The sync log's ``row_key`` is made here too, so it masks exactly what these files mask.
    """
    try:
        text = _dumps(obj)
    except ValueError:
        pass  # NaN or an infinity somewhere
    else:
        if not holds_secret((text,), redactor):
            return text
    notes: list[str] = []
    clean = _clean(obj, (), notes, redactor.mask_known)
    if notes:
        clean["reason"] = "; ".join(filter(None, [clean.get("reason"), *notes]))
    return _dumps(clean)


def plain_line(obj: dict[str, Any]) -> str:
    """``obj`` as :func:`masked_line` writes it when it holds no secret; the caller checks that.

    Faster for a flat object (a row's key: a few strings and integers), which the sync log
    makes once per row processed: ``JSONEncoder.encode`` builds a C encoder on every call, most
    of its cost on a small object, so such an object is written directly and any other left to
    ``_dumps``. Raises ``ValueError`` on a NaN or an infinity (:func:`masked_line` writes those
    as strings).
    """
    parts = []
    for name, value in obj.items():
        kind = type(value)
        if type(name) is not str:
            return _dumps(obj)
        if kind is str:
            parts.append(f"{_string(name)}: {_string(value)}")
        elif kind is int:
            parts.append(f"{_string(name)}: {int.__repr__(value)}")
        else:
            return _dumps(obj)
    return "{" + ", ".join(parts) + "}"


def holds_secret(texts: Iterable[str], redactor: Redactor) -> bool:
    """Whether any of ``texts`` holds a known secret, as is or JSON-escaped: one search of all.

    Joined by newlines, which neither a secret's escaped form nor a JSON line contains, so a
    match never spans two texts.
    """
    joined = "\n".join(texts)
    return any(s in joined or _escaped(s) in joined for s in redactor.secrets)


class JsonLines:
    """A thread-safe JSONL file of strict JSON with the known secrets masked."""

    def __init__(
        self, path: Path, redactor: Redactor, *, run_id: str | None = None, fresh: bool = False
    ) -> None:
        """Append, opening lazily (a run without rejections leaves no file behind).

        ``fresh`` empties the file now instead, so it holds this run's lines only, even none;
        ``run_id`` starts every line.
        """
        self.path = path
        self.count = 0
        self.run_id = run_id
        self._redactor = redactor
        self._lock = threading.Lock()
        self._file: Any = None
        if fresh:
            self._open("w")

    def line(self, obj: dict[str, Any]) -> str:
        """``obj`` as one line of this file (:func:`masked_line`)."""
        return masked_line(obj, self._redactor)

    def write(self, obj: dict[str, Any]) -> None:
        """Append one object and flush it (so a crash loses at most the line being written)."""
        line = self.line({"run_id": self.run_id, **obj} if self.run_id else obj)
        with self._lock:
            if self._file is None:
                self._open("a")
            self._file.write(line + "\n")
            self._file.flush()
            self.count += 1

    def _open(self, mode: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open(mode, encoding="utf-8")

    def close(self) -> None:
        """Close the file if it was opened."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@functools.lru_cache(maxsize=64)
def _escaped(secret: str) -> str:
    """How ``secret`` appears inside a serialised JSON string (escaping is per character)."""
    return _dumps(secret)[1:-1]


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
        """Write one rejected row: ``record`` as it arrived at the target (see the module doc)."""
        entry: dict[str, Any] = {"stream": stream, "record": record, "reason": reason}
        if status is not None:
            entry["status"] = status
            entry["body"] = body
        entry["time"] = dt.datetime.now(dt.timezone.utc).isoformat()
        self.write(entry)
