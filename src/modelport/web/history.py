"""Prediction history, corrections and the model card's confusion matrix.

Page: ``/history`` (a model's own page, with its card, is in ``model_pages``). API:
``/api/v1/predictions`` (JSON and CSV), a prediction's stored input, and feedback, which
also teaches models that can learn (``review`` says when).

A visitor sees and corrects only their own predictions (another's answers 404, as one that
does not exist); teachers and operators see them all; ``MODELPORT_PUBLIC_HISTORY`` opens
the history to everyone.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from modelport.inputs import InputError
from modelport.service import prediction_age_seconds
from modelport.store import Store
from modelport.store import queries as q
from modelport.web.auth import current_caller
from modelport.web.chart import render_confusion_chart
from modelport.web.limits import limited
from modelport.web.request_input import json_body
from modelport.web.review import feedback_json, teach
from modelport.web.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("history", __name__)

# Feedback on a prediction still being written waits for it, this long at most (the local
# recorder's flush included), and only for a well-formed id made in the last FRESH_S
# seconds, with at most WAITERS requests of a worker waiting at once: made-up ids cannot
# hold the request threads (each used to hold one for 3 s).
FEEDBACK_WAIT_S = 0.25
FRESH_S = 3.0
WAITERS = 2
PREDICTION_ID = re.compile(r"[0-9a-f]{20}")
_waiters = threading.BoundedSemaphore(WAITERS)
PAGE_SIZE = 25
PICKER_MAX = 12  # as in feedback.js: models with more labels get a search box
YES = {"1", "true", "yes", "corrected"}
NO = {"0", "false", "no", "uncorrected"}


def _store() -> Store:
    return current_app.extensions["modelport_store"]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"invalid_{name}", f"'{name}' must be a whole number.", 400) from None
    if not low <= value <= high:
        raise InputError(f"invalid_{name}", f"'{name}' must be between {low} and {high}.", 400)
    return value


def _filter() -> q.HistoryFilter:
    corrected = request.args.get("corrected", "").strip().lower()
    if corrected not in YES | NO | {"", "all"}:
        raise InputError("invalid_corrected", "'corrected' must be true, false or left out.", 400)
    feedback = request.args.get("feedback", "").strip().lower()
    if feedback not in (*q.FEEDBACK_KINDS, "", "all"):
        raise InputError(
            "invalid_feedback", "'feedback' must be wrong, right, none or left out.", 400
        )
    where = q.HistoryFilter(
        model=request.args.get("model") or None,
        corrected=True if corrected in YES else False if corrected in NO else None,
        feedback=feedback if feedback in q.FEEDBACK_KINDS else None,
    )
    return q.visible_to(current_caller(), where, _public())


def _public() -> bool:
    return runtime().settings.public_history


def _page() -> q.HistoryPage:
    return q.history(
        _store(),
        _filter(),
        page=_int_arg("page", 1, 1, 1_000_000),
        per_page=_int_arg("per_page", PAGE_SIZE, 1, q.MAX_PAGE_SIZE),
    )


@bp.get("/history")
def history_page():
    where = _filter()
    page = _page()
    items = [q.prediction_json(row) for row in page.rows]
    return render_template(
        "history.html",
        page=page,
        items=items,
        labels=_labels_to_choose(items),
        picker_max=PICKER_MAX,
        where=where,
        corrected=request.args.get("corrected", "").strip().lower(),
        feedback=where.feedback or ("wrong" if where.corrected is True else ""),
        models=[m.name for m in runtime().registry],
        mine_only=where.mine_only,
    )


def _labels_to_choose(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The labels of each served model with a prediction awaiting feedback on the page: the
    answers its feedback form offers."""
    waiting = {item["model"] for item in items if item["feedback"] is None}
    models = runtime().registry.models
    return {name: list(models[name].labels) for name in waiting if name in models}


@bp.get("/api/v1/predictions")
def list_predictions():
    page = _page()
    return jsonify(
        predictions=[q.prediction_json(row) for row in page.rows],
        page=page.page,
        per_page=page.per_page,
        pages=page.pages,
        total=page.total,
    )


@bp.get("/api/v1/predictions.csv")
def export_predictions():
    lines = q.csv_lines(_store(), _filter())
    response = Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="predictions.csv"'},
    )
    response.implicit_sequence_conversion = False  # streamed: nothing may read it all first
    return response


@bp.get("/api/v1/predictions/<prediction_id>/input")
def prediction_input(prediction_id: str):
    found = q.visible_prediction(_store(), current_caller(), prediction_id, _public())
    if found is None:
        raise _unknown_prediction(prediction_id)
    response = Response(found.input_image, mimetype=found.input_mime)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/api/v1/predictions/<prediction_id>/feedback")
@limited("feedback")
def prediction_feedback(prediction_id: str):
    """A teacher's or operator's answer is trusted (and learned, see ``review``); anyone
    else's is a suggestion until an operator accepts it. One answer per prediction."""
    return jsonify(give_feedback(prediction_id, _label(json_body(request))))


def give_feedback(prediction_id: str, label: str | None) -> dict:
    """The caller's answer on a prediction they may see: ``label``, or the predicted label
    itself when None (the answer was right). What the feedback API answers, as a dict;
    the HTML forms (``feedback_forms``) answer through it too."""
    caller = current_caller()
    with _writer_wait(prediction_id) as wait:
        prediction = q.visible_prediction(_store(), caller, prediction_id, _public(), wait)
    if prediction is None:
        raise _unknown_prediction(prediction_id)
    label = prediction.label if label is None else label
    model = runtime().registry.models.get(prediction.model)
    if model is not None and label not in model.labels:
        raise InputError("unknown_label", f"{prediction.model} has no label {label!r}.", 422)
    try:
        feedback = q.save_feedback(
            _store(), prediction, label, given_by=caller.label, trusted=caller.is_staff
        )
    except q.AlreadyJudged:
        raise InputError(
            "already_judged",
            "A teacher or operator has already said what this prediction should be.",
            409,
        ) from None
    return feedback_json(prediction, feedback, teach(prediction, feedback))


@bp.get("/models/<name>/confusion.png")
def confusion_picture(name: str):
    model = runtime().registry.get(name)
    matrix = q.confusion(_store(), name, model.labels)
    png = render_confusion_chart(matrix, title=f"{name}: {matrix.total} judged predictions")
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _label(body: dict[str, Any]) -> str:
    label = body.get("label")
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)  # a digit sent as a number
    if not isinstance(label, str) or not label.strip():
        raise InputError("missing_label", "Send JSON {'label': the right answer}.", 400)
    return label.strip()


@contextmanager
def _writer_wait(prediction_id: str) -> Iterator[float]:
    """How long to wait for ``prediction_id`` to be stored: 0 unless it was just made, in
    which case this worker's recorder is flushed first (it may still hold it) and what is
    left of ``FEEDBACK_WAIT_S`` is for another worker's writer."""
    age = prediction_age_seconds(prediction_id) if PREDICTION_ID.fullmatch(prediction_id) else None
    if age is None or not -1 < age < FRESH_S or not _waiters.acquire(blocking=False):
        yield 0.0
        return
    try:
        started = time.monotonic()
        flush = getattr(runtime().recorder, "flush", None)
        if flush is not None:
            flush(timeout=FEEDBACK_WAIT_S)
        yield max(0.0, FEEDBACK_WAIT_S - (time.monotonic() - started))
    finally:
        _waiters.release()


def _unknown_prediction(prediction_id: str) -> InputError:
    return InputError("unknown_prediction", f"There is no prediction {prediction_id!r}.", 404)
