"""Which file is the run's ledger, taken under its lock: one per Refiner project.

The ledger remembers what a Refiner *project* acknowledged, so it is named by the project uuid
Refiner's key check answers (``GET {api_url}/``), not by how the key or URL are spelled: a
rotated key, or ``localhost`` instead of ``127.0.0.1``, keeps it. A file of the older naming (a
hash of ``api_url`` and key) is adopted on the first run that finds no project file: renamed
under both locks (an older target may still be writing it), then the project is recorded in it.

The key check's ``project_uuid`` has a single source (refiner-api.md §1.1). When it is missing,
the older naming is used, with a warning that a rotated key then starts a new ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from target_refiner.ledger.lock import LedgerLock
from target_refiner.ledger.sqlite import Ledger, legacy_ledger_path, project_ledger_path

if TYPE_CHECKING:
    import logging
    from pathlib import Path

#: SQLite's companions of a database file in WAL mode (moved with it).
COMPANIONS = ("-wal", "-shm")


def take_ledger(  # noqa: PLR0913 - where, whose, and how long to wait
    state_dir: Path,
    project: str | None,
    *,
    api_url: str,
    api_key: str,
    wait_seconds: float,
    log: logging.Logger,
) -> tuple[Path, LedgerLock]:
    """The ledger file for ``project`` and its lock, held; adopts a file of the older naming."""
    legacy = legacy_ledger_path(state_dir, api_url, api_key)
    if project is None:
        log.warning(
            "Refiner's key check named no project (`project_uuid`): the ledger %s is named by "
            "`api_url` and the key, so rotating the key or writing `api_url` differently starts "
            "a new ledger (every row is sent again).",
            legacy,
        )
        return legacy, LedgerLock(legacy.with_suffix(".lock"), wait_seconds=wait_seconds)
    path = project_ledger_path(state_dir, project)
    lock = LedgerLock(path.with_suffix(".lock"), wait_seconds=wait_seconds)
    try:
        if not path.exists() and legacy.exists():
            _adopt(legacy, path, wait_seconds)
            log.info("Ledger %s adopted as %s (named by Refiner project %s)", legacy, path, project)
    except BaseException:
        lock.release()
        raise
    return path, lock


def _adopt(legacy: Path, path: Path, wait_seconds: float) -> None:
    """Move ``legacy`` to ``path`` under its own lock, its WAL folded in first."""
    old_lock = LedgerLock(legacy.with_suffix(".lock"), wait_seconds=wait_seconds)
    try:
        Ledger(legacy).close()  # proves it readable; closing the last connection checkpoints
        for suffix in COMPANIONS:  # first, so a crash half-way leaves a legacy file to redo
            companion = legacy.with_name(legacy.name + suffix)
            if companion.exists():
                companion.replace(path.with_name(path.name + suffix))
        legacy.replace(path)
    finally:
        old_lock.release()
