"""One database for every worker: SQLite (the default) or PostgreSQL through psycopg 3.

SQLite is set up for several gunicorn workers writing at once: WAL (readers never wait
for the writer), a busy timeout (writers queue instead of failing), and write
transactions that start with ``BEGIN IMMEDIATE``, so a transaction never has to upgrade
a read lock to a write lock, the case SQLite answers with "database is locked" at once
instead of waiting.

An SQLite connection is only as good as the file it opened, so two things are watched:

- a connection opened while the file was not writable stays read-only for good, even once
  the file is writable again: an error saying so ("readonly database", "disk I/O error",
  "unable to open database file") counts as a lost connection, and the pool is renewed;
- a file deleted or replaced under open connections still takes their writes, which then
  vanish with it: every write transaction checks, once committed, that the path still names
  the file its connection opened (``DatabaseFileGone`` if not); and once a store has
  applied the schema (``upgrade``), a write that finds the file missing creates it again
  with the schema, folders included.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
POSTGRES_CONNECT_TIMEOUT_S = 5
WRITE_OPTION = "modelport_write"
FILE_KEY = "modelport_file"  # in a connection's info: the (device, inode) it opened
# SQLite errors after which a connection is worth nothing: it was opened read-only, or its
# file (or journal) is gone or unreachable. A new connection may well work.
STALE_SQLITE_ERRORS = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
STALE_SQLITE_MESSAGES = ("readonly database", "disk i/o error", "unable to open database file")


class DatabaseFileGone(Exception):
    """The SQLite file a transaction wrote to is no longer at its path (deleted, replaced)."""


class Store:
    """The database behind a URL; engines are made lazily and again after a fork."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = make_url(url).get_backend_name()
        self.path = sqlite_path(url)
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._schema_applied = False  # by this store: it may make the file again
        self._upgrade_pending = False

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is not None and self._pid != os.getpid():
                    # A forked child must not use the parent's connections.
                    self._engine.dispose(close=False)
                    self._engine = None
                if self._engine is None:
                    self._engine = create_engine_for(self.url)
                    self._pid = os.getpid()
                engine = self._engine
        return engine

    def session(self) -> Session:
        """A session for reading (and small writes that may wait their turn)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction takes the write lock first, committed on success.

        On SQLite, raises ``DatabaseFileGone`` after the commit if what was written went
        to a file that is no longer the database's (the caller should write it again).
        """
        if self._upgrade_pending:
            self.upgrade()  # raises while the database is still away: the write waits
        path = self.path
        if path is not None and self._schema_applied and not path.exists():
            self.recreate(path)
        engine = self.engine.execution_options(**{WRITE_OPTION: True})
        with Session(engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
                opened = session.connection().info.get(FILE_KEY) if path is not None else None
            if path is not None:
                self._check_file(path, opened)

    def _check_file(self, path: Path, opened: tuple[int, int] | None) -> None:
        now = file_identity(path)
        if opened is not None and now == opened:
            return
        self.dispose()  # every pooled connection may hold the old file
        if not self._schema_applied:
            pass  # not ours to make: the next write finds what is there, or fails
        elif now is None:
            self.recreate(path)
        else:  # another worker made it again: wait for its schema (the migration lock)
            self.upgrade()
        raise DatabaseFileGone(
            f"{path} was deleted or replaced while open: the last write went to the old file"
        )

    def recreate(self, path: Path) -> None:
        """The database file is missing: make it (and its folders) again, with the schema."""
        with self._lock:
            if path.exists():
                return
            log.warning("the database %s is gone: creating it again", path)
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            path.parent.mkdir(parents=True, exist_ok=True)
        self.upgrade()  # under the migration lock: one worker migrates, the others wait

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe when workers start together)."""
        from modelport.store.migrate import upgrade

        upgrade(self)
        self._schema_applied = True
        self._upgrade_pending = False

    def upgrade_when_reachable(self) -> bool:
        """:meth:`upgrade` now, or, when the database cannot be reached, before the first
        write that can reach it: a worker starting during an outage serves (predictions
        are held by the recorder) instead of failing to boot and taking its server down."""
        try:
            self.upgrade()
            return True
        except (OperationalError, InterfaceError) as exc:
            self._upgrade_pending = True
            log.error("the database cannot be reached (%s): serving on, writes wait for it", exc)
            return False

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def file_identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device and inode), None when there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def is_stale_sqlite_error(error: BaseException) -> bool:
    """Whether an SQLite error condemns the connection (see the module's docstring)."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(STALE_SQLITE_ERRORS):
        return True
    text = str(error).lower()
    return any(message in text for message in STALE_SQLITE_MESSAGES)


def create_engine_for(url: str) -> Engine:
    path = sqlite_path(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args = {}
        if "connect_timeout" not in parsed.query:  # a server that does not answer at all
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args
        )
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
    event.listen(engine, "connect", _sqlite_on_connect(path))
    event.listen(engine, "begin", _sqlite_on_begin)
    event.listen(engine, "handle_error", _sqlite_on_error)
    return engine


def _sqlite_on_connect(path: Path | None):
    def on_connect(dbapi_connection, record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        if path is not None:
            record.info[FILE_KEY] = file_identity(path)

    return on_connect


def _sqlite_on_error(context) -> None:
    """A read-only connection, or one whose file is gone: drop it and renew the pool."""
    if is_stale_sqlite_error(context.original_exception):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True


def _sqlite_on_begin(connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
