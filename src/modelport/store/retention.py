"""Keeping the history within an age and a size: old predictions are deleted as new ones come.

Predictions with feedback are kept (they are what the models learned from and what live
accuracy is measured on), as ``modelport history purge`` keeps them by default. Every
worker's recorder calls :meth:`Retention.enforce` now and then; the deletes are the same
whichever worker makes them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select

from modelport.store import queries as q
from modelport.store.db import Store
from modelport.store.tables import FeedbackRow, PredictionRow

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0


@dataclass
class Retention:
    max_days: int = 0  # 0: keep whatever its age
    max_rows: int = 0  # 0: keep however many
    every_seconds: float = EVERY_SECONDS
    _next: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_days > 0 or self.max_rows > 0

    def due(self) -> bool:
        return self.enabled and time.monotonic() >= self._next

    def enforce(self, store: Store) -> int:
        """Delete what is past the bounds; how many predictions went."""
        self._next = time.monotonic() + self.every_seconds
        deleted = 0
        if self.max_days > 0:
            deleted += q.purge(store, datetime.now(UTC) - timedelta(days=self.max_days))
        if self.max_rows > 0:
            cutoff = newest_kept_at(store, self.max_rows)
            if cutoff is not None:
                deleted += q.purge(store, cutoff)
        if deleted:
            log.info("history retention deleted %d old predictions", deleted)
        return deleted


def newest_kept_at(store: Store, max_rows: int):
    """The time of the oldest of the newest ``max_rows`` predictions without feedback:
    those made before it are the ones over the bound (None when within it)."""
    without_feedback = ~exists().where(FeedbackRow.prediction_id == PredictionRow.id)
    with store.session() as session:
        return session.scalar(
            select(PredictionRow.created_at)
            .where(without_feedback)
            .order_by(PredictionRow.created_at.desc())
            .offset(max_rows - 1)
            .limit(1)
        )
