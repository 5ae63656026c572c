"""Storing predictions without slowing them down: a queue and a writer thread per process.

``record`` only appends the event to a deque (no lock, no wake-up: signalling the writer on
every request cost a tenth of a digit request's CPU); the writer thread looks every
``poll_seconds``, makes thumbnails and inserts whatever has queued up in one transaction.
A prediction never fails because it could not be stored: failures are logged and counted
(``stats`` and ``/metrics``). The queue is flushed at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from modelport import telemetry
from modelport.service import PredictionEvent
from modelport.store.db import Store
from modelport.store.images import drawing_as_stored, thumbnail_jpeg
from modelport.store.tables import LABEL_LENGTH, PredictionRow

log = logging.getLogger(__name__)

MAX_QUEUE = 5000
BATCH_SIZE = 500
WRITE_ATTEMPTS = 3
POLL_SECONDS = 0.05


@dataclass
class RecorderStats:
    recorded: int = 0
    failed: int = 0
    dropped: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class SqlRecorder:
    """A ``modelport.service.Recorder`` that writes to the SQL store in the background."""

    def __init__(
        self,
        store: Store,
        keep_uploads: bool = False,
        max_queue: int = MAX_QUEUE,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.keep_uploads = keep_uploads
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stats = RecorderStats()
        self._events: deque[PredictionEvent] = deque()
        self._writing = False  # a batch has left the deque and is not written yet
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        _live_recorders.add(self)

    def record(self, event: PredictionEvent) -> None:
        if self._closed:
            self._lost("dropped", 1)
            return
        if len(self._events) >= self.max_queue:
            self._lost("dropped", 1)
            log.error("prediction %s not recorded: the recording queue is full", event.id)
            return
        self._ensure_writer()
        self._events.append(event)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written (or given up on)."""
        deadline = time.monotonic() + timeout
        while self._events or self._writing:
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.002)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer; later events are dropped."""
        self.flush(timeout)
        self._closed = True

    def _ensure_writer(self) -> None:
        # After a fork (gunicorn with preload) the parent's thread does not exist here.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._writing = False
                self._thread = threading.Thread(
                    target=self._run, name="modelport-recorder", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        # Write at most every poll_seconds (sooner when flushed or a full batch waits), so
        # that under load each transaction carries many rows rather than one or two.
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            while self._events:
                self._writing = True  # before taking events, so flush never sees neither
                batch = []
                while self._events and len(batch) < self.batch_size:
                    batch.append(self._events.popleft())
                try:
                    self._write(batch)
                finally:
                    self._writing = False
                if len(self._events) < self.batch_size and not self._wake.is_set():
                    break

    def _write(self, batch: list[PredictionEvent]) -> None:
        rows = []
        for event in batch:
            try:
                rows.append(self._row(event))
            except Exception:
                self._lost("failed", 1)
                log.exception("prediction %s not recorded: its input could not be kept", event.id)
        if not rows:
            return
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                # A Core insert: the ORM's bulk path cost three times as much CPU per row.
                with self.store.writing() as session:
                    session.execute(insert(PredictionRow.__table__), rows)
            except Exception:
                if attempt < WRITE_ATTEMPTS:
                    log.warning("recording %d predictions failed, retrying", len(rows))
                    time.sleep(0.2 * attempt)
                    continue
                self._lost("failed", len(rows))
                log.exception("%d predictions not recorded", len(rows))
                return
            self.stats.recorded += len(rows)
            self.stats.batches += 1
            telemetry.PREDICTIONS_RECORDED.inc(len(rows))
            return

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
        }

    def _lost(self, how: str, count: int) -> None:
        setattr(self.stats, how, getattr(self.stats, how) + count)
        telemetry.PREDICTIONS_NOT_RECORDED.inc(count)


_live_recorders: weakref.WeakSet[SqlRecorder] = weakref.WeakSet()


@atexit.register
def flush_all() -> None:
    """Write what every recorder of this process still holds (at exit)."""
    for recorder in list(_live_recorders):
        if not recorder.flush(timeout=10):
            log.error("exiting with predictions not yet recorded")
