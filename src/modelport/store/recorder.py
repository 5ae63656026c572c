"""Storing predictions without slowing them down: a queue and a writer thread per process.

``record`` only appends the event to a deque (no lock, no wake-up: signalling the writer on
every request cost a tenth of a digit request's CPU); the writer thread looks every
``poll_seconds``, makes thumbnails and inserts whatever has queued up in one transaction.
A prediction never fails because it could not be stored.

An acknowledged prediction is not given up because the database is away for a while:

- the writer turns events into rows (thumbnail made, decoded image let go) at once, and
  keeps the rows until a write succeeds, retrying with a growing pause (0.1 s doubling to
  2 s). A write whose outcome is unknown (the connection died during the commit) is simply
  written again: the insert skips ids already stored;
- what it holds is bounded (``max_backlog`` predictions, ``max_backlog_bytes`` of rows,
  ``max_queue`` events not yet made into rows); past that, predictions are dropped, logged
  and counted (``stats`` and ``modelport_predictions_not_recorded_total``);
- errors that waiting does not mend (a missing table, a row the database refuses) are
  tried ``WRITE_ATTEMPTS`` times, then row by row, and the rows refused are given up;
- ``health()`` says whether writes succeed, since when they fail and why, and how much is
  held: ``/readyz`` answers 503 while they fail. With nothing to write for ``PROBE_EVERY_S``
  (or while failing), the writer probes the database with a write that changes nothing, so
  a worker without traffic knows too, and readiness comes back without traffic;
- at exit (gunicorn's ``worker_exit``, else ``atexit``) everything held is written, within
  a time limit; what could not be is logged and counted.

A process killed outright (SIGKILL) loses what it holds: in normal operation the events of
the last ``poll_seconds``, during a database outage the whole backlog.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, false, insert
from sqlalchemy import exc as sa_exc

from modelport import telemetry
from modelport.service import PredictionEvent
from modelport.store.db import DatabaseFileGone, Store
from modelport.store.images import drawing_as_stored, thumbnail_jpeg
from modelport.store.retention import Retention
from modelport.store.tables import LABEL_LENGTH, PredictionRow

log = logging.getLogger(__name__)

MAX_QUEUE = 5000  # events not yet made into rows (each still holds its decoded image)
MAX_BACKLOG = 50_000  # predictions held in all, queued or waiting for the database
MAX_BACKLOG_BYTES = 256 * 1024 * 1024  # rows waiting for the database (images included)
BATCH_SIZE = 500
POLL_SECONDS = 0.05
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
WRITE_ATTEMPTS = 3  # for errors that waiting does not mend
EXIT_FLUSH_SECONDS = 10.0
LOG_EVERY_S = 10.0
PROBE_EVERY_S = 2.0  # an idle writer's look at the database (a write that changes nothing)
ROW_OVERHEAD_BYTES = 400  # a row's dict, strings and numbers, roughly
# OperationalErrors that say the schema is wrong, not that the database is away.
SCHEMA_PROBLEMS = ("no such table", "no such column", "has no column named")


@dataclass
class RecorderStats:
    recorded: int = 0
    failed: int = 0
    dropped: int = 0
    batches: int = 0
    write_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class RecordingHealth:
    """Whether predictions can be stored now; ``backlog`` is what waits to be written."""

    ok: bool
    backlog: int
    failing_for: float | None = None  # seconds since writes began to fail
    last_error: str | None = None
    not_recorded: int = 0  # given up since the start (failed or dropped)

    def describe(self) -> str:
        if self.ok:
            return "ok"
        return f"failing for {self.failing_for:.1f} s: {self.last_error}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backlog": self.backlog,
            "failing_for_s": None if self.failing_for is None else round(self.failing_for, 1),
            "last_error": self.last_error,
            "not_recorded": self.not_recorded,
        }


class SqlRecorder:
    """A ``modelport.service.Recorder`` that writes to the SQL store in the background."""

    def __init__(
        self,
        store: Store,
        keep_uploads: bool = False,
        max_queue: int = MAX_QUEUE,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
        max_backlog: int = MAX_BACKLOG,
        max_backlog_bytes: int = MAX_BACKLOG_BYTES,
        retention: Retention | None = None,
    ) -> None:
        self.store = store
        self.retention = retention or Retention()
        self.keep_uploads = keep_uploads
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_backlog = max_backlog
        self.max_backlog_bytes = max_backlog_bytes
        self.stats = RecorderStats()
        self._events: deque[PredictionEvent] = deque()  # as recorded
        self._rows: deque[dict[str, Any]] = deque()  # made, waiting for a write to succeed
        self._row_bytes = 0
        self._insert = _insert_skipping_stored(store)
        self._wake = threading.Event()
        self._flushing = 0
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closed = False
        self._abandoned = False
        self._start_lock = threading.Lock()
        # The writer's state, changed by the writer thread only.
        self._failing_since: float | None = None
        self._last_error: str | None = None
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST_S
        self._last_success = time.monotonic()
        self._refusals = 0  # attempts in a row that failed with an error waiting won't mend
        self._logged_failure_at = 0.0
        self._published_backlog = -1
        self._logged_drop_at = 0.0
        self._unlogged_drops = 0
        _live_recorders.add(self)

    def record(self, event: PredictionEvent) -> None:
        if self._closed:
            self._drop(event, "the recorder is closed")
            return
        queued = len(self._events)
        if queued >= self.max_queue or queued + len(self._rows) >= self.max_backlog:
            self._drop(event, "the recording backlog is full")
            return
        self._ensure_writer()
        self._events.append(event)

    @property
    def backlog(self) -> int:
        """Predictions recorded here and not written yet."""
        return len(self._events) + len(self._rows)

    def health(self) -> RecordingHealth:
        self._ensure_writer()  # whose probes keep this true in a worker without traffic
        since, error = self._failing_since, self._last_error
        lost = self.stats.failed + self.stats.dropped
        if since is None:
            return RecordingHealth(ok=True, backlog=self.backlog, not_recorded=lost)
        return RecordingHealth(
            ok=False,
            backlog=self.backlog,
            failing_for=time.monotonic() - since,
            last_error=error,
            not_recorded=lost,
        )

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written (or given up on)."""
        deadline = time.monotonic() + timeout
        with self._flush_lock:
            self._flushing += 1
        try:
            self._wake.set()
            # An event is in one deque or the other (or both for a moment) until it is
            # written or given up: the writer appends its row before taking it off.
            while self._events or self._rows:
                if time.monotonic() >= deadline:
                    return False
                if self._events:
                    self._ensure_writer()
                time.sleep(0.002)
            return True
        finally:
            with self._flush_lock:
                self._flushing -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop taking events; later events are dropped."""
        self.flush(timeout)
        self._closed = True

    def abandon(self, reason: str) -> int:
        """Give up what is still held (the process is leaving): logged and counted."""
        self._closed = True
        held = self.backlog
        if held:
            self._lost("dropped", held)
            log.error(
                "%d predictions not recorded: %s (%s)", held, reason, self.health().describe()
            )
        self._abandoned = True  # the writer leaves them be
        self._events.clear()
        self._rows.clear()
        self._row_bytes = 0
        return held

    def _ensure_writer(self) -> None:
        # After a fork (gunicorn with preload) the parent's thread does not exist here.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="modelport-recorder", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        # Write at most every poll_seconds (sooner when flushed or a full batch waits), so
        # that under load each transaction carries many rows rather than one or two.
        while True:
            self._wake.wait(0.002 if self._flushing else self.poll_seconds)
            self._wake.clear()
            try:
                self._work()
            except Exception:  # a bug here must not end the recording for good
                log.exception("the prediction recorder failed; carrying on")
                time.sleep(self.poll_seconds)

    def _work(self) -> None:
        if self._abandoned:
            return
        self._make_rows()
        while (now := time.monotonic()) >= self._retry_at:
            if not self._rows:
                if self._failing_since is not None or now - self._last_success >= PROBE_EVERY_S:
                    self._probe()
                break
            if not self._write_batch():
                break
            self._make_rows()
            if len(self._rows) < self.batch_size and not self._flushing:
                break
        if self._failing_since is None and not self._rows and self.retention.due():
            try:
                self.retention.enforce(self.store)
            except Exception:  # retention is housekeeping: the next round tries again
                log.exception("history retention failed")
        backlog = self.backlog
        if backlog != self._published_backlog:
            self._published_backlog = backlog
            telemetry.RECORDING_BACKLOG.set(backlog)

    def _make_rows(self) -> None:
        """Turn every queued event into its row (even while the database is away)."""
        while self._events:
            event = self._events[0]
            try:
                row = self._row(event)
            except Exception:
                row = None
                self._lost("failed", 1)
                log.exception("prediction %s not recorded: its input could not be kept", event.id)
            if row is not None:  # (an event given up is counted before it leaves the deque)
                size = _row_size(row)
                if self._row_bytes + size > self.max_backlog_bytes:
                    self._drop(event, "the recording backlog is full (bytes)")
                else:
                    self._rows.append(row)
                    self._row_bytes += size
            self._events.popleft()  # only now, so that flush always sees it somewhere

    def _write_batch(self) -> bool:
        """Write the oldest rows; False when the writing should pause."""
        count = min(len(self._rows), self.batch_size)
        batch = list(itertools.islice(self._rows, count))
        try:
            self._insert_rows(batch)
        except Exception as error:
            if _retryable(error):
                self._failed(error, count)
                return False
            self._refusals += 1
            if self._refusals < WRITE_ATTEMPTS:
                self._failed(error, count)
                return False
            self._refusals = 0
            return self._write_one_by_one(count)
        self._written(count)  # counted before flush can see the rows gone
        self._forget(count)
        return True

    def _write_one_by_one(self, count: int) -> bool:
        """The batch keeps failing: store the rows that can be, give up the others."""
        refused: list[str] = []
        first_error: BaseException | None = None
        try:
            for _ in range(count):
                if not self._rows:  # abandoned meanwhile
                    return False
                row = self._rows[0]
                try:
                    self._insert_rows([row])
                except Exception as error:
                    if _retryable(error):  # the database went away meanwhile: later
                        self._failed(error, len(self._rows))
                        return False
                    if first_error is None:  # said before flush can see the row gone
                        first_error = error
                        log.exception(
                            "prediction %s not recorded, refused by the database: %s",
                            row["id"],
                            _describe(error),
                        )
                    refused.append(row["id"])
                    self._lost("failed", 1)
                    self._failed(error, 0, pause=False)
                    self._forget(1)
                    continue
                self._written(1)
                self._forget(1)
            return True
        finally:
            if len(refused) > 1:  # one line for the rest (a missing table refuses them all)
                log.error(
                    "%d more predictions not recorded, refused by the database (%s%s)",
                    len(refused) - 1,
                    ", ".join(refused[1:4]),
                    ", ..." if len(refused) > 4 else "",
                )

    def _insert_rows(self, rows: list[dict[str, Any]]) -> None:
        # A Core insert: the ORM's bulk path cost three times as much CPU per row.
        with self.store.writing() as session:
            session.execute(self._insert, rows)

    def _probe(self) -> None:
        """Nothing to write but writes were failing: try a write that changes nothing."""
        try:
            with self.store.writing() as session:
                session.execute(delete(PredictionRow).where(false()))
        except Exception as error:
            self._failed(error, 0)
            return
        self._written(0)

    def _forget(self, count: int) -> None:
        for _ in range(min(count, len(self._rows))):
            self._row_bytes -= _row_size(self._rows.popleft())

    def _written(self, count: int) -> None:
        if count:
            self.stats.recorded += count
            self.stats.batches += 1
            telemetry.PREDICTIONS_RECORDED.inc(count)
        self._refusals = 0
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST_S
        self._last_success = time.monotonic()
        if self._failing_since is not None:
            log.warning(
                "recording works again after %.1f s; %d predictions waiting",
                time.monotonic() - self._failing_since,
                self.backlog,
            )
            self._failing_since = None
            self._last_error = None
            telemetry.RECORDING_FAILING.set(0)

    def _failed(self, error: BaseException, held: int, pause: bool = True) -> None:
        now = time.monotonic()
        self.stats.write_errors += 1
        telemetry.RECORDING_WRITE_ERRORS.inc()
        self._last_error = _describe(error)
        first = self._failing_since is None
        if first:
            self._failing_since = now
            telemetry.RECORDING_FAILING.set(1)
        if pause:
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)
        if first or now - self._logged_failure_at >= LOG_EVERY_S:
            self._logged_failure_at = now
            log.warning(
                "cannot record predictions (%d held, failing for %.1f s), retrying: %s",
                max(held, self.backlog),
                now - self._failing_since,
                self._last_error,
            )

    def _row(self, event: PredictionEvent) -> dict[str, Any]:
        if event.image is None:  # a table row, as JSON
            image, mime = event.input_bytes, "application/json"
        elif event.input_kind == "photo":
            image, mime = thumbnail_jpeg(event.image), "image/jpeg"
        else:
            image, mime = drawing_as_stored(event.input_bytes, event.image)
        best = event.predictions[0]
        return {
            "id": event.id,
            "created_at": event.created_at,
            "model": event.model,
            "model_version": event.model_version,
            "input_kind": event.input_kind,
            "input_image": image,
            "input_mime": mime,
            "upload": event.input_bytes if self.keep_uploads else None,
            "predictions": [{"label": p.label, "score": p.score} for p in event.predictions],
            "label": best.label[:LABEL_LENGTH],
            "score": best.score,
            "latency_ms": event.latency_ms,
            "owner": event.owner,
        }

    def _drop(self, event: PredictionEvent, reason: str) -> None:
        self._lost("dropped", 1)
        now = time.monotonic()
        self._unlogged_drops += 1
        if now - self._logged_drop_at >= LOG_EVERY_S or self._logged_drop_at == 0.0:
            self._logged_drop_at = now
            count, self._unlogged_drops = self._unlogged_drops, 0
            log.error(
                "prediction %s not recorded: %s (%d dropped since the last such line, %d held)",
                event.id,
                reason,
                count,
                self.backlog,
            )

    def _lost(self, how: str, count: int) -> None:
        setattr(self.stats, how, getattr(self.stats, how) + count)
        telemetry.PREDICTIONS_NOT_RECORDED.inc(count)


def _insert_skipping_stored(store: Store):
    """An insert of prediction rows that skips ids already stored, so a write whose
    outcome was unknown can simply be written again."""
    table = PredictionRow.__table__
    if store.backend == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif store.backend == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        return insert(table)
    return dialect_insert(table).on_conflict_do_nothing(index_elements=[table.c.id])


def _row_size(row: dict[str, Any]) -> int:
    return len(row["input_image"]) + len(row["upload"] or b"") + ROW_OVERHEAD_BYTES


def _retryable(error: BaseException) -> bool:
    """Whether waiting may mend the error: the database is away, locked, read-only, full,
    or its file was replaced; not a missing table or a row the database refuses."""
    if isinstance(error, DatabaseFileGone | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            text = str(error.orig).lower()
            return not any(problem in text for problem in SCHEMA_PROBLEMS)
        return False
    return isinstance(error, OSError)


def _describe(error: BaseException) -> str:
    """One line about an error, without the SQL and its parameters (images among them)."""
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    lines = str(cause).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else type(cause).__name__}"[:300]


_live_recorders: weakref.WeakSet[SqlRecorder] = weakref.WeakSet()


@atexit.register
def flush_all(timeout: float = EXIT_FLUSH_SECONDS) -> None:
    """Write what every recorder of this process still holds (at exit), within ``timeout``
    seconds in all; what is still held then is logged and counted as not recorded."""
    deadline = time.monotonic() + timeout
    for recorder in list(_live_recorders):
        if not recorder.flush(timeout=max(0.0, deadline - time.monotonic())):
            recorder.abandon(f"still not written {timeout:.0f} s into the exit")
