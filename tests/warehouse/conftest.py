"""Fixtures of the warehouse tests: one real PostgreSQL per session, a fresh database per test.

The Meltano fixtures are the ones of tests/meltano (real Meltano from ``MELTANO_BIN``, a project
copy, an emulator with a webhook receiver), imported so both folders run Meltano the same way.
"""

from __future__ import annotations

import itertools

import psycopg
import pytest

from tests.meltano.conftest import meltano_bin, meltano_project, refiner_stack
from tests.warehouse.postgres_server import EmbeddedPostgres

__all__ = ["meltano_bin", "meltano_project", "refiner_stack"]

# Not UTC on purpose: a session time zone must never shift what lands or what is read.
WAREHOUSE_TIME_ZONE = "America/New_York"
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of our own (see postgres_server.py), stopped at the session's end."""
    with EmbeddedPostgres() as server:
        yield server


class Warehouse:
    """One database of the session's server: its connection settings and a query helper."""

    def __init__(self, server: EmbeddedPostgres, name: str) -> None:
        self.server = server
        self.name = name
        self.url = server.url(name)

    def libpq_env(self) -> dict[str, str]:
        """The libpq variables the ``warehouse`` environment of meltano.yml reads."""
        return {
            "PGHOST": self.server.host,
            "PGPORT": str(self.server.port),
            "PGUSER": self.server.user,
            "PGPASSWORD": self.server.password,
            "PGDATABASE": self.name,
        }

    def execute(self, sql: str) -> None:
        """Run statements (no parameters), committed."""
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(sql)

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """Every row of one query, read in UTC."""
        with psycopg.connect(self.url, options="-c timezone=UTC") as con:
            return con.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: object) -> object:
        """The first column of the first row of one query."""
        return self.rows(sql, *params)[0][0]


@pytest.fixture
def warehouse(postgres):
    """A new, empty database whose default time zone is not UTC."""
    name = f"warehouse_{next(_database_numbers)}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
        con.execute(f"ALTER DATABASE {name} SET timezone TO '{WAREHOUSE_TIME_ZONE}'")
    return Warehouse(postgres, name)
