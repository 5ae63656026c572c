"""Request counters shared by every worker of a server: a fixed window per client and kind
of request, kept in SQL the workers already share (no Redis or Memcached to run).

One statement per counted request: an upsert that starts the client's window afresh or
adds one to it and says the count (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, the
same text on SQLite 3.35+ and PostgreSQL).

- PostgreSQL: the ``rate_limits`` table of the shared database (migration 0002), so the
  servers sharing that database share the counts too.
- SQLite: a file of its own beside the database (``modelport-ratelimits.db``), through the
  sqlite3 module directly, one connection per thread, ``synchronous=OFF`` (counts are
  worth nothing after a crash). Measured in the request path (benchmarks/rate_limits.py):
  the same upsert through SQLAlchemy on the main database cost 0.3 to 0.7 ms of CPU per
  request, about a tenth of a digit prediction, and waited behind the recorder's batch
  writes; this way it costs a few hundredths of a millisecond and waits for nobody but
  the other workers' counting.

A fixed window lets a client send up to twice the limit across a window's edge: the limits
are meant against floods, not as exact quotas. If the counts cannot be kept, the request is
let through (and logged once a minute): the limiter must not take the service down.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, text

from modelport.store.db import WRITE_OPTION, Store
from modelport.store.tables import RateLimitRow

log = logging.getLogger(__name__)

BUCKET_LENGTH = 128
COUNTS_SUFFIX = "-ratelimits.db"
SWEEP_EVERY = 1000  # hits per process between removals of windows long over
KEEP_WINDOWS_S = 86400  # the longest window there is (a day)
BUSY_TIMEOUT_S = 5
HIT_SQL = (
    "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ({bucket}, {window}, 1) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "hits = CASE WHEN rate_limits.window_start = excluded.window_start "
    "THEN rate_limits.hits + 1 ELSE 1 END, "
    "window_start = excluded.window_start "
    "RETURNING hits"
)
CREATE_SQL = (
    "CREATE TABLE IF NOT EXISTS rate_limits (bucket VARCHAR(128) NOT NULL PRIMARY KEY, "
    "window_start BIGINT NOT NULL, hits INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends


class Counter:
    """Fixed-window counting; subclasses say where the counts are kept (``_count``)."""

    def __init__(self) -> None:
        self._hits = 0
        self._failed_at = 0.0

    def hit(self, bucket: str, limit: int, period: int, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window = int(now // period) * period
        retry_after = max(1, int(window + period - now + 0.999))
        try:
            hits = self._count(bucket[:BUCKET_LENGTH], window)
        except Exception:
            if time.monotonic() - self._failed_at > 60:  # once a minute, not per request
                log.exception("rate limit not counted (the request is let through)")
                self._failed_at = time.monotonic()
            return Verdict(True, limit, limit, retry_after)
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            self.sweep(now)
        return Verdict(hits <= limit, limit, max(0, limit - hits), retry_after)

    def sweep(self, now: float | None = None) -> int:
        """Remove the rows of windows that began more than a day ago."""
        try:
            return self._sweep((time.time() if now is None else now) - KEEP_WINDOWS_S)
        except Exception:
            log.warning("could not remove old rate-limit windows", exc_info=True)
            return 0

    def _count(self, bucket: str, window: int) -> int:
        raise NotImplementedError

    def _sweep(self, before: float) -> int:
        raise NotImplementedError


class SqlCounter(Counter):
    """Counts in the ``rate_limits`` table of a store (PostgreSQL's, shared by servers)."""

    _HIT = text(HIT_SQL.format(bucket=":bucket", window=":window"))

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def _count(self, bucket: str, window: int) -> int:
        engine = self.store.engine.execution_options(**{WRITE_OPTION: True})
        with engine.begin() as connection:
            return connection.execute(self._HIT, {"bucket": bucket, "window": window}).scalar_one()

    def _sweep(self, before: float) -> int:
        with self.store.writing() as session:
            result = session.execute(delete(RateLimitRow).where(RateLimitRow.window_start < before))
        return int(result.rowcount or 0)


class SqliteCounter(Counter):
    """Counts in an SQLite file of their own, shared by the workers that open it."""

    _HIT = HIT_SQL.format(bucket="?", window="?")

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # new thread, or a forked child
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            # Switching to WAL does not wait for a busy file: workers opening it at the same
            # moment would fail (and let requests through uncounted). They take turns.
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute(CREATE_SQL)
            connection.execute("PRAGMA synchronous = OFF")
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _count(self, bucket: str, window: int) -> int:
        # One statement in autocommit: it takes the write lock, counts and commits.
        try:
            return self._connection().execute(self._HIT, (bucket, window)).fetchone()[0]
        except sqlite3.Error:
            self._local.pid = None  # a new connection next time (the file may have gone)
            raise

    def _sweep(self, before: float) -> int:
        cursor = self._connection().execute(
            "DELETE FROM rate_limits WHERE window_start < ?", (before,)
        )
        return cursor.rowcount


def counter_for(store: Store, instance_path: Path) -> Counter:
    """PostgreSQL: its own table; SQLite: a file beside the database (see the module)."""
    if not store.is_sqlite:
        return SqlCounter(store)
    beside = store.path.with_name(store.path.stem + COUNTS_SUFFIX) if store.path else None
    return SqliteCounter(beside or instance_path / f"modelport{COUNTS_SUFFIX}")
