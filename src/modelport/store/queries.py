"""Reading and changing the history: pages, CSV, feedback, accuracy, confusion, purge.

Who may see what is decided here, beside the data: a visitor sees the predictions they
made (``HistoryFilter.owner``), teachers and operators see all (``visible_to``,
``visible_prediction``); anything else is "not there".
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from modelport.store import learned
from modelport.store.db import Store
from modelport.store.people import Caller
from modelport.store.tables import TRUSTED_STATUSES, FeedbackRow, PredictionRow

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


FEEDBACK_KINDS = ("wrong", "right", "none")


@dataclass(frozen=True)
class HistoryFilter:
    """``corrected``: True for predictions people corrected, False for the rest, None for all.

    ``feedback``: "wrong" (marked wrong, i.e. corrected), "right" (marked right, confirmed),
    "none" (no feedback yet) or None for all; it narrows further when ``corrected`` is set too.

    ``mine_only``: only the predictions of ``owner`` (none at all when ``owner`` is None).
    """

    model: str | None = None
    corrected: bool | None = None
    owner: str | None = None
    feedback: str | None = None
    mine_only: bool = False

    def apply(self, query: Select) -> Select:
        if self.mine_only:
            query = query.where(PredictionRow.owner == self.owner if self.owner else false())
        if self.model:
            matches = PredictionRow.model == self.model if storable(self.model) else false()
            query = query.where(matches)
        if self.corrected is not None:
            # An alias, so the test stays correlated to predictions only when the outer
            # query joins the feedback too (the CSV export does).
            judged = aliased(FeedbackRow)
            was_corrected = exists().where(
                judged.prediction_id == PredictionRow.id, judged.is_correct.is_(False)
            )
            query = query.where(was_corrected if self.corrected else ~was_corrected)
        if self.feedback in FEEDBACK_KINDS:
            given = aliased(FeedbackRow)
            judged = exists().where(given.prediction_id == PredictionRow.id)
            if self.feedback == "none":
                query = query.where(~judged)
            else:
                query = query.where(judged.where(given.is_correct.is_(self.feedback == "right")))
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
            # "trusted" (a teacher's or operator's), "suggested", "accepted" or "rejected"
            "status": feedback.status,
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
    """The matching history as CSV, produced a chunk at a time so exports stay small in memory
    (the database streams the rows, ``chunk`` at a time).

    The query has run when this returns, so a database that cannot be reached is an error
    here (a 503) rather than a download cut short. Text cells a spreadsheet would take for a
    formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR: a label anyone may
    send) get a leading ``'`` (OWASP's advice), so they are shown as text, never run.
    """
    lines = _csv_lines(store, where, chunk)
    header = next(lines)
    return _prepended(header, lines)


def _prepended(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest  # closing this closes ``rest`` too, and with it the session


def _csv_lines(store: Store, where: HistoryFilter, chunk: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
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
        rows = session.execute(query.execution_options(yield_per=chunk))
        yield _drain(buffer)
        for row in rows:
            writer.writerow(
                [
                    csv_text(row[0]),
                    _iso(row[1]),
                    *map(csv_text, row[2:6]),
                    f"{row[6]:.6f}",
                    f"{row[7]:.3f}",
                    csv_text(row[8] or ""),
                    "" if row[9] is None else str(bool(row[9])).lower(),
                    _iso(row[10]) if row[10] else "",
                ]
            )
            if buffer.tell() > 64 * 1024:
                yield _drain(buffer)
    yield _drain(buffer)


def sees_everything(caller: Caller, public: bool = False) -> bool:
    """Teachers and operators see every prediction; visitors too when history is public."""
    return public or caller.is_staff


def visible_to(caller: Caller, where: HistoryFilter, public: bool = False) -> HistoryFilter:
    """``where`` narrowed to what ``caller`` may see."""
    if sees_everything(caller, public):
        return replace(where, mine_only=False)
    return replace(where, owner=caller.owner, mine_only=True)


def visible_prediction(
    store: Store, caller: Caller, prediction_id: str, public: bool = False, wait: float = 0.0
) -> PredictionRow | None:
    """The prediction if ``caller`` may see it (and so correct it), else None: another
    person's prediction is answered exactly like one that does not exist. ``wait``: how long
    to wait for another worker's writer to store a prediction just made."""
    row = wait_for_prediction(store, prediction_id, wait)
    if row is None:
        return None
    if sees_everything(caller, public):
        return row
    return row if caller.owner is not None and row.owner == caller.owner else None


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str | None) -> str:
    """A text cell as a spreadsheet will show it, never as a formula to run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def storable(text: str | None) -> bool:
    """Whether a value sent by a client can be compared with stored text: PostgreSQL refuses
    NUL characters outright, and nothing stored holds one, so such a value matches nothing."""
    return text is None or "\x00" not in text


def get_prediction(store: Store, prediction_id: str) -> PredictionRow | None:
    if not storable(prediction_id):
        return None
    with store.session() as session:
        return session.get(PredictionRow, prediction_id)


def input_image(store: Store, prediction_id: str) -> tuple[bytes, str] | None:
    if not storable(prediction_id):
        return None
    with store.session() as session:
        row = session.execute(
            select(PredictionRow.input_image, PredictionRow.input_mime).where(
                PredictionRow.id == prediction_id
            )
        ).first()
    return None if row is None else (row[0], row[1])


def wait_for_prediction(store: Store, prediction_id: str, timeout: float) -> PredictionRow | None:
    """The prediction, waiting up to ``timeout`` for another worker's writer to store it."""
    if not storable(prediction_id):
        return None
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        row = get_prediction(store, prediction_id)
        if row is not None or time.monotonic() >= deadline:
            return row
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)


class AlreadyJudged(Exception):
    """A visitor's answer on a prediction a teacher or operator has already judged."""


def save_feedback(
    store: Store,
    prediction: PredictionRow,
    label: str,
    given_by: str | None = None,
    trusted: bool = False,
) -> FeedbackRow:
    """Store what people say the right label is; a later answer replaces an earlier one.

    ``trusted``: a teacher's or operator's answer; anyone else's is a suggestion awaiting
    an operator's review. A suggestion does not replace a trusted answer (AlreadyJudged,
    unless it says the same), and suggesting again what was rejected stays rejected.
    """
    values = {
        "label": label,
        "is_correct": label == prediction.label,
        "created_at": datetime.now(UTC),
        "given_by": given_by,
        "status": "trusted" if trusted else "suggested",
        "reviewed_by": None,
        "reviewed_at": None,
    }
    for _ in range(2):
        try:
            with store.writing() as session:
                row = session.get(FeedbackRow, prediction.id)
                if row is None:
                    row = FeedbackRow(prediction_id=prediction.id, **values)
                    session.add(row)
                elif not trusted and row.label == label and row.status != "suggested":
                    pass  # already judged (or rejected) as exactly this: nothing changes
                elif not trusted and row.status in TRUSTED_STATUSES:
                    raise AlreadyJudged(prediction.id)
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return row
        except IntegrityError:  # two answers at once: the second becomes an update
            continue
    raise RuntimeError(f"feedback on {prediction.id} could not be stored")


def review_feedback(
    store: Store, prediction_id: str, accept: bool, reviewer: str
) -> FeedbackRow | None:
    """An operator accepts or rejects a visitor's answer; None when there is none.

    A teacher's or operator's own answer is trusted already and stays as it is.
    """
    with store.writing() as session:
        row = session.get(FeedbackRow, prediction_id)
        if row is not None and row.status != "trusted":
            row.status = "accepted" if accept else "rejected"
            row.reviewed_by = reviewer
            row.reviewed_at = datetime.now(UTC)
    return row


@dataclass
class Suggestions:
    rows: list[PredictionRow]
    total: int


def suggestions(store: Store, limit: int = 50) -> Suggestions:
    """Visitors' corrections awaiting review, oldest first (with their predictions)."""
    waiting = (
        select(PredictionRow)
        .join(FeedbackRow, FeedbackRow.prediction_id == PredictionRow.id)
        .where(FeedbackRow.status == "suggested", FeedbackRow.is_correct.is_(False))
    )
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(waiting.subquery()))
        rows = session.scalars(
            waiting.order_by(FeedbackRow.created_at, PredictionRow.id).limit(limit)
        ).all()
    return Suggestions(list(rows), int(total or 0))


@dataclass
class LiveAccuracy:
    right: int
    judged: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.judged if self.judged else None


def live_accuracy(store: Store, model: str) -> LiveAccuracy:
    """Among the predictions people marked right or corrected, how many were right (answers
    an operator rejected left out)."""
    with store.session() as session:
        judged, right = session.execute(
            select(func.count(), func.count().filter(FeedbackRow.is_correct.is_(True)))
            .select_from(FeedbackRow)
            .join(PredictionRow, PredictionRow.id == FeedbackRow.prediction_id)
            .where(PredictionRow.model == model, FeedbackRow.status != "rejected")
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
            .where(PredictionRow.model == model, FeedbackRow.status != "rejected")
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
        if include_corrections:
            learned.forget(session, ids)
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
