"""The ledger: change detection, delete semantics, per-environment files."""

from __future__ import annotations

import pytest

from target_refiner.ledger.keys import LedgerKey, LedgerOfAnotherProjectError, LedgerWrite
from target_refiner.ledger.sqlite import Ledger, legacy_ledger_path, project_ledger_path


def test_identify_segment_delete_and_track(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ident = LedgerKey("identify", "id:u")
    seg = LedgerKey("segment", "id:u", "S")
    deleted = LedgerKey("deleted", "id:u")
    track = LedgerKey("track", '["e1"]', "events")
    ledger.commit(
        [
            LedgerWrite(ident, "h1", "id:u"),
            LedgerWrite(seg, "member", "id:u"),
            LedgerWrite(track, "sent", "id:u"),
        ]
    )
    assert ledger.is_unchanged(ident, "h1")
    assert not ledger.is_unchanged(ident, "h2")
    assert ledger.is_unchanged(seg, "member")
    assert ledger.is_unchanged(track, "sent")
    # Deleting the contact forgets its identify and memberships (they must be sent again).
    ledger.commit([LedgerWrite(deleted, "deleted", "id:u")])
    assert ledger.lookup(ident) is None
    assert ledger.lookup(seg) is None
    assert ledger.is_unchanged(deleted, "deleted")
    assert ledger.is_unchanged(track, "sent")  # an event stays sent
    # Identifying again re-creates the contact: a later delete must be sent again.
    ledger.commit([LedgerWrite(ident, "h1", "id:u")])
    assert ledger.lookup(deleted) is None
    assert ledger.count() == 2
    ledger.close()


def test_rows_survive_reopening(tmp_path):
    key = LedgerKey("identify", "email:a@b.c")
    first = Ledger(tmp_path / "l.sqlite")
    first.commit([LedgerWrite(key, "h", "email:a@b.c")])
    first.close()
    second = Ledger(tmp_path / "l.sqlite")
    assert second.is_unchanged(key, "h")
    second.close()


def test_older_naming_by_environment_without_the_key(tmp_path):
    a = legacy_ledger_path(tmp_path, "https://api.refiner.io/v1", "key-one")
    b = legacy_ledger_path(tmp_path, "https://api.refiner.io/v1/", "key-two")
    c = legacy_ledger_path(tmp_path, "http://127.0.0.1:9/v1", "key-one")
    assert len({a, b, c}) == 3
    assert "key-one" not in str(a)
    assert a == legacy_ledger_path(tmp_path, "https://api.refiner.io/v1/", "key-one")


def test_one_file_per_project_and_never_another_projects(tmp_path):
    uuid = "2f0c4a1e-0000-4000-8000-000000000001"
    assert project_ledger_path(tmp_path, uuid).name == f"ledger-project-{uuid}.sqlite"
    odd = project_ledger_path(tmp_path, "../x y")
    assert odd.parent == tmp_path
    assert "/" not in odd.name.removeprefix("ledger-project-")
    path = project_ledger_path(tmp_path, uuid)
    Ledger(path, project=uuid).close()
    Ledger(path, project=uuid).close()  # the same project again
    with pytest.raises(LedgerOfAnotherProjectError, match="belongs to Refiner project 2f0c"):
        Ledger(path, project="another-project")
