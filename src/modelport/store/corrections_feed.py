"""Keeps the models that learn on the spot (``use_learned``), and the taught models
(``taught_feed``), in step with the database.

Every worker of every replica answers from what the database says a model learned: it
catches up before it is ready, right after a correction it took itself, and from a
background thread that reads each model's revision every ``POLL_SECONDS`` for what other
workers and replicas were taught. A correction made anywhere is thus learned everywhere
within a fraction of a second; while the database is away, a worker keeps what it had.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

import numpy as np

from modelport.inputs import InputError
from modelport.inputs.decode import Limits, open_image
from modelport.models.base import Model
from modelport.models.batching import unwrapped
from modelport.store import learned
from modelport.store.db import Store
from modelport.store.taught_feed import TaughtModels

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


def learns_on_the_spot(model: Model) -> bool:
    return model.input_kind == "sketch" and callable(getattr(model, "use_learned", None))


class CorrectionsFeed:
    def __init__(
        self,
        store: Store,
        models: Mapping[str, Model],
        limits: Limits,
        poll_seconds: float = POLL_SECONDS,
        taught: TaughtModels | None = None,
    ) -> None:
        self.store = store
        self.taught = taught
        self.limits = limits
        self.poll_seconds = poll_seconds
        bare = {name: unwrapped(m) for name, m in models.items()}
        self.learners = {name: m for name, m in bare.items() if learns_on_the_spot(m)}
        self.synced = not self.learners and taught is None
        self._revisions: dict[str, int] = {}
        self._prepared: dict[str, dict[str, np.ndarray | None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def learns(self, model_name: str) -> bool:
        return model_name in self.learners

    def prepare(self, model_name: str, drawing: bytes) -> np.ndarray | None:
        """The drawing as the model learns it; None when it cannot be read."""
        try:
            return self.learners[model_name].prepare(open_image(drawing, self.limits))
        except InputError as exc:
            log.warning("%s cannot learn from an unreadable input: %s", model_name, exc.detail)
            return None

    def sync(self) -> None:
        """Catch up with every change the database has (raises if it cannot be read)."""
        if not self.learners and self.taught is None:
            return
        with self._lock:
            current = learned.revisions(self.store)  # read first: a later change is seen next
            if self.taught is not None:
                self.taught.sync(current)
            for name in self.learners:
                revision = current.get(name, 0)
                if not self.synced or self._revisions.get(name) != revision:
                    self._relearn(name)
                    self._revisions[name] = revision
            self.synced = True

    def _relearn(self, name: str) -> None:
        corrections = learned.corrections(self.store, name)
        known = self._prepared.get(name, {})
        missing = [c.prediction_id for c in corrections if c.prediction_id not in known]
        for prediction_id, drawing in learned.input_images(self.store, missing).items():
            known[prediction_id] = self.prepare(name, drawing)
        model = self.learners[name]
        usable = [
            (known[c.prediction_id], c.label)
            for c in corrections
            if known.get(c.prediction_id) is not None and c.label in model.labels
        ]
        self._prepared[name] = {c.prediction_id: known.get(c.prediction_id) for c in corrections}
        samples = [sample for sample, _label in usable]
        model.use_learned(
            np.stack(samples) if samples else np.zeros((0, 64), np.float32),
            [label for _sample, label in usable],
        )
        log.info("%s answers with %d learned corrections", name, len(usable))

    def start(self) -> None:
        """Follow the database from a background thread (in the serving worker)."""
        if (not self.learners and self.taught is None) or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._follow, name=f"corrections-feed-{os.getpid()}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sync()
            except Exception as exc:  # the database is away: keep what was learned
                if not self._failing:
                    log.warning("cannot read what the models learned: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("reading what the models learned again")
                self._failing = False

    def try_sync(self) -> bool:
        """``sync``, saying whether it worked instead of raising."""
        try:
            self.sync()
        except Exception as exc:
            log.warning("cannot read what the models learned: %s", exc)
            return False
        return True
