"""A page per model, built-in or added: try it, then its card (``/models/<name>``).

The try section fits the model's input kind: a photo upload, the drawing canvas, or a form
with one field per feature of a tabular model. With JavaScript on, photo.js and draw.js ask
the JSON API and fill in the page; without it the photo and tabular forms POST to the page
itself and the server renders the same answer (or a friendly 4xx that names what is wrong).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from modelport.inputs import InputError
from modelport.inputs.adapters import form_row
from modelport.models.base import Model
from modelport.service import predict_rows
from modelport.store import queries as q
from modelport.store import taught as taught_store
from modelport.store.taught_feed import taught_model
from modelport.web.auth import visitor_owner
from modelport.web.limits import limited
from modelport.web.pages import classified_drawing
from modelport.web.photo import ACCEPT, bars_of, classify_upload, too_large_message
from modelport.web.photo import TOP_K as PHOTO_TOP_K
from modelport.web.runtime import runtime

bp = Blueprint("model_pages", __name__)

TABLE_TOP_K = 5
# Up to this many classes go in the page for the feedback widget; more are fetched from the
# API when someone says an answer is wrong (ImageNet's 1000 would weigh down every page).
LABELS_IN_PAGE = 100
KIND_WORDS = {"sketch": "a drawing", "photo": "a photo", "tabular": "a table row"}


@bp.app_template_filter("kind_words")
def kind_words(kind: str) -> str:
    """What a model takes, in words: "a drawing", "a photo", "a table row"."""
    return KIND_WORDS.get(kind, kind)


@bp.app_template_filter("feature_words")
def feature_words(feature: Any) -> str:
    """A feature's values in words: "a number from 0 to 10", "one of red, green"."""
    if feature.type == "category":
        return "one of " + ", ".join(feature.choices or [])
    return " ".join(filter(None, ["a number", _bounds(feature)]))


@bp.app_template_filter("feature_hint")
def feature_hint(feature: Any) -> str:
    """Under a form field: a number's bounds ("from 30 to 60"); nothing for a category."""
    if feature.type == "category":
        return ""
    return _bounds(feature) or "any number"


def _bounds(feature: Any) -> str:
    low, high = feature.min, feature.max
    if low is not None and high is not None:
        return f"from {_number(low)} to {_number(high)}"
    if low is not None:
        return f"at least {_number(low)}"
    if high is not None:
        return f"at most {_number(high)}"
    return ""


def _number(value: float) -> str:
    return f"{value:.12g}"


@bp.app_template_filter("count_of")
def count_of(count: int, noun: str) -> str:
    """ "1 drawing", "2 drawings", "0 drawings"."""
    return f"{count} {noun if count == 1 else noun + 's'}"


@bp.app_template_filter("readable_date")
def readable_date(value: Any) -> str:
    """An ISO time as people read it: "20 November 2026" (the value as given if not ISO)."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{when.day} {when:%B %Y}"


@bp.app_template_filter("input_value")
def input_value(value: Any) -> str:
    """A value of a stored row as people write it: 5 rather than 5.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@bp.get("/models/<name>")
def model_page(name: str):
    return _render(runtime().registry.get(name))


@bp.post("/models/<name>")
@limited("predict")
def try_model(name: str):
    """The no-JavaScript path: a photo or a picture of a drawing (multipart ``file``), or a
    table row (one form field per feature) in, the same page with the answer (or a
    friendly 4xx) out."""
    model = runtime().registry.get(name)
    try:
        if model.input_kind == "tabular":
            row = form_row(request.form, model.features)
            result = predict_rows(
                model, row, top_k=TABLE_TOP_K, recorder=runtime().recorder, owner=visitor_owner()
            )[0]
            return _render(model, result=result, bars=bars_of(result))
        if model.input_kind == "photo":
            return _render(model, **classify_upload(model, PHOTO_TOP_K))
        return _render(model, **classified_drawing(model))  # a picture of a drawing
    except RequestEntityTooLarge:
        return _render(model, 413, error=too_large_message())
    except InputError as exc:
        return _render(model, exc.status, error=exc.detail, invalid=_named_features(model, exc))


def _named_features(model: Model, exc: InputError) -> set[str]:
    """The features a refusal is about, to mark their fields."""
    return {f.name for f in model.features if repr(f.name) in exc.detail}


def _render(model: Model, status: int = 200, **answer: Any) -> tuple[str, int]:
    store = current_app.extensions["modelport_store"]
    labels = model.labels if len(model.labels) <= LABELS_IN_PAGE else None
    top_k = TABLE_TOP_K if model.input_kind == "tabular" else PHOTO_TOP_K
    page = render_template(
        "model_card.html",
        model=model,
        metrics=model.info.metrics,
        accuracy=q.live_accuracy(store, model.name),
        matrix=q.confusion(store, model.name, model.labels),
        history_url=url_for("history.history_page", model=model.name),
        labels=labels,
        top_k=min(top_k, len(model.labels)),
        accept=ACCEPT,
        values=_posted_values(),
        invalid=answer.pop("invalid", set()),
        example=json.dumps({"inputs": example_row(model)}),
        python_row=repr(example_row(model)),
        answer_class="display-1" if max(map(len, model.labels)) <= 2 else "display-6",
        taught_examples=taught_examples(store, model),
        **answer,
    )
    return page, status


def taught_examples(store, model: Model) -> dict[str, list[dict]]:
    """A taught model's examples by class, for its card (nothing for other models)."""
    if taught_model(runtime().registry, model.name) is None:
        return {}
    taught = taught_store.get(store, model.name)
    by_class: dict[str, list[dict]] = {}
    for example in taught.examples if taught else []:
        thumbnail = url_for("teach_api.example_thumbnail", name=model.name, example_id=example.id)
        by_class.setdefault(example.label, []).append({"id": example.id, "thumbnail": thumbnail})
    return by_class


def _posted_values() -> dict[str, str]:
    """What the form held when it was posted, to fill it in again."""
    if request.method != "POST":
        return {}
    try:
        return request.form.to_dict()
    except RequestEntityTooLarge:
        return {}


def example_row(model: Model) -> dict[str, Any]:
    """A row a tabular model takes, for the page's API example: each number in the middle of
    its bounds (or a bound, or 0), each category its first choice."""
    row: dict[str, Any] = {}
    for feature in model.features:
        if feature.type == "category":
            row[feature.name] = (feature.choices or [""])[0]
            continue
        bounds = [b for b in (feature.min, feature.max) if b is not None]
        middle = sum(bounds) / len(bounds) if bounds else 0.0
        row[feature.name] = round(middle, 2)
    return row
