"""Storing predictions without slowing them down: a queue and a writer thread per process.

``record`` only puts the event on a queue; the writer thread makes thumbnails and inserts
whatever has queued up in one transaction. A prediction never fails because it could not
be stored: failures are logged and counted (``stats``). The queue is flushed at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
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
    ) -> None:
        self.store = store
        self.keep_uploads = keep_uploads
        self.batch_size = batch_size
        self.stats = RecorderStats()
        self._queue: queue.Queue[PredictionEvent] = queue.Queue(max_queue)
        self._pending = 0  # queued or being written
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        _live_recorders.add(self)

    def record(self, event: PredictionEvent) -> None:
        if self._closed:
            self._lost("dropped", 1)
            return
        self._ensure_writer()
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._done(1)
            self._lost("dropped", 1)
            log.error("prediction %s not recorded: the recording queue is full", event.id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written (or given up on)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
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
                self._thread = threading.Thread(
                    target=self._run, name="modelport-recorder", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                self._done(len(batch))

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
                with self.store.writing() as session:
                    session.execute(insert(PredictionRow), rows)
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
        if event.input_kind == "photo":
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

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if not self._pending:
                self._idle.notify_all()


_live_recorders: weakref.WeakSet[SqlRecorder] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for recorder in list(_live_recorders):
        if not recorder.flush(timeout=10):
            log.error("exiting with predictions not yet recorded")
