"""The warehouse tests' own PostgreSQL: a real server on 127.0.0.1, never as root, cleaned up."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.warehouse.postgres_server import EmbeddedPostgres


def test_server_listens_on_its_port_and_wants_the_password(postgres):
    with psycopg.connect(postgres.url("postgres")) as con:
        version = con.execute("SHOW server_version_num").fetchone()[0]
        address = con.execute("SELECT inet_server_addr()::text").fetchone()[0]
        port = con.execute("SELECT inet_server_port()").fetchone()[0]
    assert int(version) >= 180000
    assert (address, port) == ("127.0.0.1/32", postgres.port)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.url("postgres").replace(postgres.password, "wrong")).close()


def test_server_never_runs_as_root_and_leaves_nothing_behind():
    server = EmbeddedPostgres().start()
    root, url = server.root, server.url("postgres")
    try:
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        runs_as = Path(f"/proc/{pid}").stat().st_uid
        assert runs_as != 0
        assert server.data.stat().st_uid == runs_as
    finally:
        server.stop()
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()
