"""Reading and changing the history: pages, CSV, feedback, accuracy, confusion, purge."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from modelport.store.db import Store
from modelport.store.tables import FeedbackRow, PredictionRow

MAX_PAGE_SIZE = 100
TABLE_ROW_MIME = "application/json"  # how the recorder stores a tabular prediction's row
CSV_COLUMNS = (
    "id",
    "created_at",
    "model",
    "model_version",
    "input_kind",
    "label",
    "score",
    "latency_ms",
    "feedback_label",
    "is_correct",
    "feedback_at",
)


@dataclass(frozen=True)
class HistoryFilter:
    """``corrected``: True for predictions people corrected, False for the rest, None for all."""

    model: str | None = None
    corrected: bool | None = None

    def apply(self, query: Select) -> Select:
        if self.model:
            query = query.where(PredictionRow.model == self.model)
        if self.corrected is not None:
            # An alias, so the test stays correlated to predictions only when the outer
            # query joins the feedback too (the CSV export does).
            judged = aliased(FeedbackRow)
            was_corrected = exists().where(
                judged.prediction_id == PredictionRow.id, judged.is_correct.is_(False)
            )
            query = query.where(was_corrected if self.corrected else ~was_corrected)
        return query


@dataclass
class HistoryPage:
    rows: list[PredictionRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def history(store: Store, where: HistoryFilter, page: int = 1, per_page: int = 25) -> HistoryPage:
    """Newest first, one page of it, and how many rows match in all."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(1, page)
    with store.session() as session:
        total = session.scalar(where.apply(select(func.count()).select_from(PredictionRow)))
        rows = session.scalars(
            where.apply(select(PredictionRow))
            .order_by(PredictionRow.created_at.desc(), PredictionRow.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
    return HistoryPage(list(rows), page, per_page, int(total or 0))


def prediction_json(row: PredictionRow) -> dict[str, Any]:
    """A prediction as the API lists it; a table row's values come along as ``inputs``."""
    feedback = row.feedback
    described = {
        "id": row.id,
        "created_at": _iso(row.created_at),
        "model": row.model,
        "model_version": row.model_version,
        "input_kind": row.input_kind,
        "label": row.label,
        "score": round(row.score, 6),
        "predictions": row.predictions,
        "latency_ms": round(row.latency_ms, 3),
        "feedback": None
        if feedback is None
        else {
            "label": feedback.label,
            "is_correct": feedback.is_correct,
            "created_at": _iso(feedback.created_at),
        },
    }
    if row.input_mime == TABLE_ROW_MIME:
        described["inputs"] = table_row(row.input_image)
    return described


def table_row(stored: bytes) -> dict[str, Any] | None:
    """A tabular prediction's stored row (JSON), or None if it cannot be read."""
    try:
        row = json.loads(stored)
    except (TypeError, ValueError):
        return None
    return row if isinstance(row, dict) else None


def csv_lines(store: Store, where: HistoryFilter, chunk: int = 1000) -> Iterator[str]:
    """The matching history as CSV, produced a chunk at a time so exports stay small in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    query = where.apply(
        select(
            PredictionRow.id,
            PredictionRow.created_at,
            PredictionRow.model,
            PredictionRow.model_version,
            PredictionRow.input_kind,
            PredictionRow.label,
            PredictionRow.score,
            PredictionRow.latency_ms,
            FeedbackRow.label,
            FeedbackRow.is_correct,
            FeedbackRow.created_at,
        ).outerjoin(FeedbackRow, FeedbackRow.prediction_id == PredictionRow.id)
    ).order_by(PredictionRow.created_at.desc(), PredictionRow.id.desc())
    with store.session() as session:
        for row in session.execute(query.execution_options(yield_per=chunk)):
            writer.writerow(
                [
                    row[0],
                    _iso(row[1]),
                    *row[2:6],
                    f"{row[6]:.6f}",
                    f"{row[7]:.3f}",
                    row[8] or "",
                    "" if row[9] is None else str(bool(row[9])).lower(),
                    _iso(row[10]) if row[10] else "",
                ]
            )
            if buffer.tell() > 64 * 1024:
                yield _drain(buffer)
    yield _drain(buffer)


def get_prediction(store: Store, prediction_id: str) -> PredictionRow | None:
    with store.session() as session:
        return session.get(PredictionRow, prediction_id)


def input_image(store: Store, prediction_id: str) -> tuple[bytes, str] | None:
    with store.session() as session:
        row = session.execute(
            select(PredictionRow.input_image, PredictionRow.input_mime).where(
                PredictionRow.id == prediction_id
            )
        ).first()
    return None if row is None else (row[0], row[1])


def wait_for_prediction(store: Store, prediction_id: str, timeout: float) -> PredictionRow | None:
    """The prediction, waiting up to ``timeout`` for another worker's writer to store it."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        row = get_prediction(store, prediction_id)
        if row is not None or time.monotonic() >= deadline:
            return row
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)


def save_feedback(store: Store, prediction: PredictionRow, label: str) -> FeedbackRow:
    """Store what people say the right label is; a later answer replaces an earlier one."""
    values = {
        "label": label,
        "is_correct": label == prediction.label,
        "created_at": datetime.now(UTC),
    }
    for _ in range(2):
        try:
            with store.writing() as session:
                row = session.get(FeedbackRow, prediction.id)
                if row is None:
                    row = FeedbackRow(prediction_id=prediction.id, **values)
                    session.add(row)
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return row
        except IntegrityError:  # two answers at once: the second becomes an update
            continue
    raise RuntimeError(f"feedback on {prediction.id} could not be stored")


@dataclass
class LiveAccuracy:
    right: int
    judged: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.judged if self.judged else None


def live_accuracy(store: Store, model: str) -> LiveAccuracy:
    """Among the predictions people marked right or corrected, how many were right."""
    with store.session() as session:
        judged, right = session.execute(
            select(func.count(), func.count().filter(FeedbackRow.is_correct.is_(True)))
            .select_from(FeedbackRow)
            .join(PredictionRow, PredictionRow.id == FeedbackRow.prediction_id)
            .where(PredictionRow.model == model)
        ).one()
    return LiveAccuracy(right=int(right or 0), judged=int(judged or 0))


@dataclass
class Confusion:
    """``counts[i][j]``: how often the true label ``labels[i]`` was predicted as ``labels[j]``."""

    labels: list[str]
    counts: list[list[int]]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))


def confusion(store: Store, model: str, labels: list[str], max_labels: int = 20) -> Confusion:
    """The confusion matrix of the predictions people judged.

    With many classes (ImageNet's 1000) only the labels that occur are shown, the most
    frequent ``max_labels`` of them, in the model's order.
    """
    with store.session() as session:
        pairs = session.execute(
            select(FeedbackRow.label, PredictionRow.label, func.count())
            .join(PredictionRow, PredictionRow.id == FeedbackRow.prediction_id)
            .where(PredictionRow.model == model)
            .group_by(FeedbackRow.label, PredictionRow.label)
        ).all()
    pair_counts = {(true, predicted): int(n) for true, predicted, n in pairs}
    if len(labels) > max_labels:
        seen: Counter[str] = Counter()
        for (true, predicted), n in pair_counts.items():
            seen[true] += n
            seen[predicted] += n
        keep = {label for label, _ in seen.most_common(max_labels)}
        labels = [label for label in labels if label in keep]
    counts = [[pair_counts.get((true, predicted), 0) for predicted in labels] for true in labels]
    return Confusion(labels=list(labels), counts=counts)


def purge(store: Store, before: datetime, include_corrections: bool = False) -> int:
    """Delete predictions made before ``before``; those with feedback stay unless asked.

    Feedback is what the models learned from and what live accuracy is measured on.
    """
    before = before.replace(tzinfo=UTC) if before.tzinfo is None else before.astimezone(UTC)
    with store.writing() as session:
        old = select(PredictionRow.id).where(PredictionRow.created_at < before)
        if not include_corrections:
            old = old.where(~exists().where(FeedbackRow.prediction_id == PredictionRow.id))
        ids = old.scalar_subquery()
        session.execute(delete(FeedbackRow).where(FeedbackRow.prediction_id.in_(ids)))
        result = session.execute(delete(PredictionRow).where(PredictionRow.id.in_(ids)))
    return int(result.rowcount or 0)


def count_predictions(store: Store, model: str | None = None) -> int:
    query = select(func.count()).select_from(PredictionRow)
    if model:
        query = query.where(PredictionRow.model == model)
    with store.session() as session:
        return int(session.scalar(query) or 0)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives naive datetimes back: they were stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
