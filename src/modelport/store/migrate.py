"""Alembic, run from code: the migrations live in this package, no alembic.ini needed.

Several gunicorn workers start at once and each applies migrations; a lock makes them
take turns (an advisory lock on PostgreSQL, a lock file next to the SQLite database), so
the first one migrates and the others find the schema already at head.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text

from modelport.store.db import Store, sqlite_path

MIGRATIONS = Path(__file__).with_name("migrations")
PG_LOCK_KEY = 0x6D6F64656C706F72  # "modelpor"


def alembic_config(connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(store: Store, revision: str = "head") -> None:
    # Alembic says a dozen lines at INFO on every start of every worker (some as soon as
    # it is imported, hence the imports in here); keep its warnings.
    if logging.getLogger("alembic").level == logging.NOTSET:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command

    with _migration_lock(store), store.engine.connect() as connection:
        if not store.is_sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def current_revision(store: Store) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(store: Store) -> Iterator[None]:
    path = sqlite_path(store.url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
