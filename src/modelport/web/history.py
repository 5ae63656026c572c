"""Prediction history, corrections and the model card's confusion matrix (issue #4).

Page: ``/history`` (a model's own page, with its card, is in ``model_pages``). API:
``/api/v1/predictions`` (JSON and CSV), a prediction's stored input, and feedback, which
also teaches models that can learn.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from modelport.inputs import InputError
from modelport.models.base import Model
from modelport.service import prediction_age_seconds
from modelport.store import Store
from modelport.store import queries as q
from modelport.store.charts import confusion_png
from modelport.store.learning import learn_correction
from modelport.store.tables import PredictionRow
from modelport.web.request_input import json_body
from modelport.web.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("history", __name__)

FEEDBACK_WAIT_S = 3.0  # how long feedback waits for a prediction still being written
PAGE_SIZE = 25
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
    return q.HistoryFilter(
        model=request.args.get("model") or None,
        corrected=True if corrected in YES else False if corrected in NO else None,
    )


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
    return render_template(
        "history.html",
        page=page,
        items=[q.prediction_json(row) for row in page.rows],
        where=where,
        corrected=request.args.get("corrected", "").strip().lower(),
        models=[m.name for m in runtime().registry],
    )


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
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="predictions.csv"'},
    )


@bp.get("/api/v1/predictions/<prediction_id>/input")
def prediction_input(prediction_id: str):
    found = q.input_image(_store(), prediction_id)
    if found is None:
        raise _unknown_prediction(prediction_id)
    data, mime = found
    response = Response(data, mimetype=mime)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/api/v1/predictions/<prediction_id>/feedback")
def prediction_feedback(prediction_id: str):
    label = _label(json_body(request))
    rt = runtime()
    age = prediction_age_seconds(prediction_id)
    just_made = age is not None and -1 < age < FEEDBACK_WAIT_S
    flush = getattr(rt.recorder, "flush", None)
    if just_made and flush is not None:  # made by this worker and maybe still queued
        flush(timeout=FEEDBACK_WAIT_S)
    wait = FEEDBACK_WAIT_S if just_made else 0.0  # another worker may still be writing it
    prediction = q.wait_for_prediction(_store(), prediction_id, wait)
    if prediction is None:
        raise _unknown_prediction(prediction_id)
    model = rt.registry.models.get(prediction.model)
    if model is not None and label not in model.labels:
        raise InputError("unknown_label", f"{prediction.model} has no label {label!r}.", 422)
    feedback = q.save_feedback(_store(), prediction, label)
    learned = False
    if model is not None and not feedback.is_correct:
        learned = _teach(model, prediction, label)
    return jsonify(
        id=prediction.id,
        model=prediction.model,
        predicted=prediction.label,
        label=feedback.label,
        is_correct=feedback.is_correct,
        learned=learned,
    )


@bp.get("/models/<name>/confusion.png")
def confusion_picture(name: str):
    model = runtime().registry.get(name)
    matrix = q.confusion(_store(), name, model.labels)
    png = confusion_png(matrix, title=f"{name}: {matrix.total} judged predictions")
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


def _teach(model: Model, prediction: PredictionRow, label: str) -> bool:
    """Learning is a bonus: the feedback is stored even if the model cannot learn from it."""
    drawing = q.input_image(_store(), prediction.id)
    if drawing is None:
        return False
    try:
        return learn_correction(model, drawing[0], label, runtime().limits)
    except Exception:
        log.exception("%s could not learn from correction %s", model.name, prediction.id)
        return False


def _unknown_prediction(prediction_id: str) -> InputError:
    return InputError("unknown_prediction", f"There is no prediction {prediction_id!r}.", 404)
