"""The README's sync-log queries in their PostgreSQL form, as the README words it, on a PostgreSQL
ledger's log: the same answers as the SQLite file gives to the queries as written.

The database's time zone is not UTC (conftest), which is why the README says to set it first.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from contextlib import closing

import psycopg

from target_refiner.sync_log.postgres import PostgresSyncLog
from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.docs.sync_log_runs import log_two_runs
from tests.docs.test_readme_commands import readme_blocks
from tests.meltano.meltano_helpers import ROOT
from tests.warehouse.test_sync_log_postgres import comparable

#: What the README says to change for ``psql`` (checked to be in its text).
SESSION = "SET TIME ZONE 'UTC';"
DAY_END = "date '2026-12-07' + 1"
PROJECT = "0d8759d0-401c-11ed-8ded-9757c4929b55"


def readme_queries() -> list[str]:
    """The SQL of each ``sqlite3`` command of the README's sync-log block, in order."""
    block = readme_blocks()["sync-log-queries"]
    return re.findall(r'sqlite3 -header "\$store" "\n(.*?)"', block, re.DOTALL)


def test_the_readme_queries_answer_the_same_on_a_postgresql_ledger(warehouse, tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SESSION in readme
    assert DAY_END in readme
    # Just after midnight UTC: in the database's own time zone it is still the day before.
    now = dt.datetime(2026, 12, 7, 0, 10, tzinfo=dt.timezone.utc)
    day = "2026-12-07"
    for store in (SqliteSyncLog(tmp_path / "ledger.sqlite"), PostgresSyncLog(warehouse.url)):
        try:
            log_two_runs(store, PROJECT, now)
        finally:
            store.close()
    queries = readme_queries()
    assert len(queries) == 3

    for query in queries:
        in_sqlite = query.replace("$day", day)
        in_postgres = query.replace("date('$day', '+1 day')", DAY_END.replace("2026-12-07", day))
        in_postgres = in_postgres.replace("$day", day)
        with closing(sqlite3.connect(tmp_path / "ledger.sqlite")) as db:
            expected = db.execute(in_sqlite).fetchall()
        with psycopg.connect(warehouse.url) as con:  # the database's time zone: not UTC
            con.execute(SESSION)
            got = [tuple(map(comparable, row)) for row in con.execute(in_postgres).fetchall()]
        assert expected, query  # every question has an answer in this log
        assert got == expected, query
