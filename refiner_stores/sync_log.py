"""The sync log's tables: what target-refiner did with each run and each row, for SQL.

target-refiner writes them in its ledger's database (the project's SQLite file under
``state_dir``, or the ``ledger_url`` PostgreSQL database); tap-refiner's ``sync_runs``,
``sync_changelog`` and ``sync_snapshot`` streams read them. This module is the one place their
names, columns and vocabulary are defined, for both backends and both sides.

- ``refiner_sync_runs``: one row per run (``run_id``), written when the run starts
  (``status = running``) and again when it ends. A row still ``running`` when the next run of
  the project takes the ledger's lock belonged to a process that died (kill -9, a lost
  container): that run marks it ``failed``.
- ``refiner_sync_changelog``: one row per row processed (or mirror change), append-only.
- ``refiner_sync_snapshot``: the latest changelog row per ``(project, stream, row_key)``, with
  that changelog row's ``seq``.

Every table has a ``seq`` that strictly increases in commit order within the store (one writer
per project holds the ledger's lock; in PostgreSQL writers also take the advisory transaction
lock :data:`WRITE_LOCK`, so projects sharing a database cannot interleave). A row that is
updated (a run ending, a snapshot replaced) gets a new ``seq``, so reading ``seq > bookmark``
finds every change once. ``seq`` never restarts: SQLite's ``AUTOINCREMENT`` / a PostgreSQL
identity, and the runs table takes ``max(seq) + 1`` of a table whose newest row retention never
deletes. The store's identity (:data:`META_STORE_ID`, made with the store) goes in the tap's
bookmark: a recreated store restarts ``seq``, and a bookmark of another store is not trusted.

Timestamps are ISO 8601 UTC text in SQLite and ``timestamptz`` in PostgreSQL; JSON columns
are text in SQLite and ``jsonb`` in PostgreSQL. ``row_key`` is the JSON object of the row's key
properties (``{"id": 42}``), or of the whole row when its stream has none, with the values the
dead-letter file masks masked.
"""

from __future__ import annotations

RUNS = "refiner_sync_runs"
CHANGELOG = "refiner_sync_changelog"
SNAPSHOT = "refiner_sync_snapshot"
TABLES = (RUNS, CHANGELOG, SNAPSHOT)
#: ``refiner_stores.postgres.migrate`` store name of these tables.
STORE = "sync_log"
#: PostgreSQL advisory transaction lock every sync-log write takes (``seq`` in commit order).
WRITE_LOCK = "refiner_sync_log"
#: The store's identity: a ``meta`` row in SQLite (the ledger file's table), the single row of
#: ``refiner_sync_store`` in PostgreSQL.
META_STORE_ID = "sync_log_store_id"
PG_STORE_TABLE = "refiner_sync_store"

# How a run ended (``refiner_sync_runs.status``).
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
INTERRUPTED = "interrupted"
DRY_RUN = "dry_run"
RUN_STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED, DRY_RUN)

# The call a row made, or why none was needed (``action``).
IDENTIFY = "identify"
TRACK = "track"
SEGMENT_ADD = "segment_add"
SEGMENT_REMOVE = "segment_remove"
DELETE = "delete"
MIRROR_ADD = "mirror_add"
MIRROR_REMOVE = "mirror_remove"
UNCHANGED = "unchanged"  # the ledger holds this payload already: no call
REPLAY = "replay"  # this event was sent by an earlier run: no call
NO_CALL = "none"  # the row was rejected before any call could be built
ACTIONS = (
    IDENTIFY,
    TRACK,
    SEGMENT_ADD,
    SEGMENT_REMOVE,
    DELETE,
    MIRROR_ADD,
    MIRROR_REMOVE,
    UNCHANGED,
    REPLAY,
    NO_CALL,
)

# What came of it (``outcome``). ``applied``: Refiner holds the row's effect (acknowledged, or
# already there: unchanged, replay); ``rejected``: dead-lettered with ``message``; ``failed``: the
# call's fate is unknown or it errored in a way that stopped the run; ``planned``: a dry run.
APPLIED = "applied"
REJECTED = "rejected"
FAILED_OUTCOME = "failed"
PLANNED = "planned"
OUTCOMES = (APPLIED, REJECTED, FAILED_OUTCOME, PLANNED)

#: Columns in table order; the tap's stream schemas are these names.
RUN_COLUMNS = (
    "seq",
    "project",
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "exit_code",
    "message",  # the run's stop line when it failed or was interrupted
    "streams",  # JSON {stream: {rows_in, sent, unchanged, replays, rejected}}
    "mirror",  # JSON {segment_uuid: {members, adds, removes, applied_adds, applied_removes}}
    "settings_fingerprint",  # sha256 of the settings that matter (mappings, api_url)
    "api_url",
    "host",
    "pid",
)
CHANGE_COLUMNS = (
    "seq",
    "project",
    "run_id",
    "logged_at",
    "stream",
    "row_key",  # JSON
    "user_id",
    "email",
    "action",
    "outcome",
    "http_status",
    "message",  # Refiner's message, or the dead-letter reason, for rejected and failed rows
)
SNAPSHOT_COLUMNS = CHANGE_COLUMNS

#: The columns after ``seq`` a changelog row and a snapshot row share, per backend.
_SQLITE_CHANGE = """\
    project TEXT NOT NULL,
    run_id TEXT NOT NULL,
    logged_at TEXT NOT NULL,
    stream TEXT NOT NULL,
    row_key TEXT NOT NULL,
    user_id TEXT,
    email TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    message TEXT"""
_PG_CHANGE = """\
        project text NOT NULL,
        run_id text NOT NULL,
        logged_at timestamptz NOT NULL,
        stream text NOT NULL,
        row_key jsonb NOT NULL,
        user_id text,
        email text,
        action text NOT NULL,
        outcome text NOT NULL,
        http_status integer,
        message text"""

SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {RUNS} (
    seq INTEGER NOT NULL UNIQUE,
    project TEXT NOT NULL,
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    message TEXT,
    streams TEXT NOT NULL DEFAULT '{{}}',
    mirror TEXT NOT NULL DEFAULT '{{}}',
    settings_fingerprint TEXT NOT NULL,
    api_url TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {CHANGELOG} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
{_SQLITE_CHANGE}
);
CREATE INDEX IF NOT EXISTS {CHANGELOG}_logged_at ON {CHANGELOG} (logged_at);
CREATE TABLE IF NOT EXISTS {SNAPSHOT} (
    seq INTEGER NOT NULL UNIQUE,
{_SQLITE_CHANGE},
    PRIMARY KEY (project, stream, row_key)
);
"""

#: ``refiner_stores.postgres.migrate`` steps of store :data:`STORE`.
PG_MIGRATIONS = (
    f"""
    CREATE TABLE {PG_STORE_TABLE} (
        id integer PRIMARY KEY CHECK (id = 1),
        store_id text NOT NULL
    );
    INSERT INTO {PG_STORE_TABLE} (id, store_id) VALUES (1, gen_random_uuid()::text);
    CREATE TABLE {RUNS} (
        seq bigint NOT NULL UNIQUE,
        project text NOT NULL,
        run_id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        status text NOT NULL,
        exit_code integer,
        message text,
        streams jsonb NOT NULL DEFAULT '{{}}',
        mirror jsonb NOT NULL DEFAULT '{{}}',
        settings_fingerprint text NOT NULL,
        api_url text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL
    );
    CREATE TABLE {CHANGELOG} (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{_PG_CHANGE}
    );
    CREATE INDEX {CHANGELOG}_logged_at ON {CHANGELOG} (logged_at);
    CREATE TABLE {SNAPSHOT} (
        seq bigint NOT NULL UNIQUE,
{_PG_CHANGE},
        PRIMARY KEY (project, stream, row_key)
    );
    """,  # noqa: S608 - constant SQL
)
