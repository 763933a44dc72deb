"""The ledger: what Refiner has acknowledged, so unchanged rows and replays are not sent again.

- ``keys.py``: the vocabulary every backend stores (kinds, keys, markers) and the two batched
  lookups plus the commit a backend answers (``LedgerStore``);
- ``sqlite.py``: the default backend, one SQLite file per Refiner project under ``state_dir``;
- ``files.py``: which file (named by the project; files of the older naming adopted) and its lock;
- ``lock.py``: one writer per ledger on a machine (``flock``, the holder named);
- ``postgres.py``: the ledger in PostgreSQL (``ledger_url``), one writer across machines;
- ``to_postgres.py``: ``python -m target_refiner.ledger.to_postgres`` moves a SQLite file in.
"""
