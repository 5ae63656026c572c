"""One database for every worker: SQLite (the default) or PostgreSQL through psycopg 3.

SQLite is set up for several gunicorn workers writing at once: WAL (readers never wait
for the writer), a busy timeout (writers queue instead of failing), and write
transactions that start with ``BEGIN IMMEDIATE``, so a transaction never has to upgrade
a read lock to a write lock, the case SQLite answers with "database is locked" at once
instead of waiting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_S = 30
WRITE_OPTION = "modelport_write"


class Store:
    """The database behind a URL; engines are made lazily and again after a fork."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = make_url(url).get_backend_name()
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    if self._engine is not None:
                        # A forked child must not use the parent's connections.
                        self._engine.dispose(close=False)
                    self._engine = create_engine_for(self.url)
                    self._pid = os.getpid()
        return self._engine

    def session(self) -> Session:
        """A session for reading (and small writes that may wait their turn)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction takes the write lock first, committed on success."""
        engine = self.engine.execution_options(**{WRITE_OPTION: True})
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe when workers start together)."""
        from modelport.store.migrate import upgrade

        upgrade(self)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine_for(url: str) -> Engine:
    path = sqlite_path(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transaction control to the "begin" listener below.
    engine = create_engine(
        url,
        connect_args={
            "timeout": SQLITE_BUSY_TIMEOUT_S,
            "isolation_level": None,
            "check_same_thread": False,
        },
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
