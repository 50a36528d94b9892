"""The options library on a database: every saved option with its settings, answer, author,
time and version history; comparisons with their weights. SQLite by default (a file, no
set-up), PostgreSQL when ``OPTIONS_DATABASE_URL`` is set. See :mod:`optimiser.library.store`."""

from optimiser.library.schema import SCHEMA_VERSION, migrate, schema_version
from optimiser.library.store import (
    OptionStore,
    Saved,
    SavedVersion,
    database_url,
    default_store,
)

__all__ = ["OptionStore", "Saved", "SavedVersion", "SCHEMA_VERSION", "database_url", "default_store",
           "migrate", "schema_version"]
