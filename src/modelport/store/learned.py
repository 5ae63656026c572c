"""What models learned from corrections, kept in the database for every replica.

A correction a model learned is a feedback row with a ``learned_label``; the set of them
for a model is what it learned, in the order they were learned. Each change to that set
bumps the model's row in ``learning_revisions``, so a worker knows it is up to date by
reading one small table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelport.store.db import Store
from modelport.store.tables import FeedbackRow, LearningRevisionRow, PredictionRow


@dataclass(frozen=True)
class LearnedCorrection:
    prediction_id: str
    label: str


def mark_learned(store: Store, prediction_id: str, label: str) -> None:
    """The prediction's model learned ``label`` from it (so a repeat teaches nothing)."""
    with store.writing() as session:
        row = session.get(FeedbackRow, prediction_id)
        if row is None:
            return
        row.learned_label = label
        row.learned_at = datetime.now(UTC)
        bump(session, [row.prediction.model])


def bump(session: Session, models: Iterable[str]) -> None:
    """Count one more change to what each of ``models`` learned, in ``session``'s
    transaction (one statement per model, safe when replicas bump at once)."""
    for model in set(models):
        insert = (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert
        statement = insert(LearningRevisionRow).values(model=model, revision=1)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[LearningRevisionRow.model],
                set_={"revision": LearningRevisionRow.revision + 1},
            )
        )


def revisions(store: Store) -> dict[str, int]:
    """Each model's count of changes to what it learned."""
    with store.session() as session:
        rows = session.execute(select(LearningRevisionRow.model, LearningRevisionRow.revision))
        return {model: revision for model, revision in rows}


def corrections(store: Store, model: str) -> list[LearnedCorrection]:
    """What ``model`` learned, oldest first (a later correction of the same input wins)."""
    query = (
        select(FeedbackRow.prediction_id, FeedbackRow.learned_label)
        .join(PredictionRow, FeedbackRow.prediction_id == PredictionRow.id)
        .where(PredictionRow.model == model, FeedbackRow.learned_label.is_not(None))
        .order_by(FeedbackRow.learned_at, FeedbackRow.prediction_id)
    )
    with store.session() as session:
        return [LearnedCorrection(*row) for row in session.execute(query)]


def input_images(store: Store, prediction_ids: list[str]) -> dict[str, bytes]:
    """The stored inputs of these predictions, by id."""
    found: dict[str, bytes] = {}
    with store.session() as session:
        for start in range(0, len(prediction_ids), 500):
            chunk = prediction_ids[start : start + 500]
            query = select(PredictionRow.id, PredictionRow.input_image).where(
                PredictionRow.id.in_(chunk)
            )
            found.update({prediction_id: image for prediction_id, image in session.execute(query)})
    return found


def forget(session: Session, prediction_ids) -> None:
    """Predictions about to be deleted: what their models learned from them changes."""
    learned_by = (
        select(PredictionRow.model)
        .join(FeedbackRow, FeedbackRow.prediction_id == PredictionRow.id)
        .where(PredictionRow.id.in_(prediction_ids), FeedbackRow.learned_label.is_not(None))
        .distinct()
    )
    bump(session, session.scalars(learned_by))
