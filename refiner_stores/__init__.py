"""Where durable state lives: a local SQLite file, or a PostgreSQL database every machine shares.

The layer every store uses (the pacing schedule, the webhook store; later the target's ledger):
``location`` tells a SQLite path from a PostgreSQL URL and masks its password; ``postgres``
opens a database from its URL (psycopg is the ``postgres`` extra, imported only here and only
when a URL asks for it), creates and migrates a store's schema by version, and takes locks.
Each store keeps its own vocabulary (tables, statements) beside its code.
"""

from refiner_stores.location import is_postgres, masked, url_password
from refiner_stores.postgres import MissingDriverError, StoreError

__all__ = ["MissingDriverError", "StoreError", "is_postgres", "masked", "url_password"]
