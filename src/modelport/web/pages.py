"""The pages people use: the model list and the drawing page (each model's own page is in
``model_pages``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from modelport.inputs import InputError
from modelport.models.base import Model
from modelport.web.api import preview_data_uri
from modelport.web.limits import limited
from modelport.web.photo import classify_upload, too_large_message
from modelport.web.runtime import runtime

bp = Blueprint("pages", __name__)


DIGITS = [str(digit) for digit in range(10)]


@bp.get("/")
def index():
    """Every model, each with a link to its page; the digit models and the photo model that
    ``/draw`` and ``/photo`` serve link there too."""
    registry = runtime().registry
    models = list(registry)
    photo_models = [m for m in models if m.input_kind == "photo"]
    return render_template(
        "index.html",
        models=models,
        draw_models={m.name for m in models if m.input_kind == "sketch" and m.labels == DIGITS},
        photo_model=registry.default_for("photo").name if photo_models else None,
    )


@bp.get("/draw")
def draw():
    return _render_draw()


@bp.post("/draw")
@limited("predict")
def draw_upload():
    """The no-JavaScript path: a picture of a digit (multipart ``file``) and the ``model`` in,
    the same page with the answer filled in (or a friendly 4xx) out."""
    try:
        model = _chosen_model(request.form.get("model"))
        if model is None:
            return _render_draw(503, error="No drawing model is loaded on this server.")
        return _render_draw(200, model.name, **classified_drawing(model))
    except RequestEntityTooLarge:
        return _render_draw(413, error=too_large_message())
    except InputError as exc:
        return _render_draw(exc.status, request.form.get("model"), error=exc.detail)


def classified_drawing(model: Model) -> dict:
    """The answer to the form's picture, every class in order, with what the model saw."""
    if not request.files.get("file"):
        drawn = "a digit" if model.labels == DIGITS else "a drawing"
        raise InputError("missing_file", f"Choose a picture of {drawn} first.", 400)
    answer = classify_upload(model, top_k=len(model.labels))
    answer["preview_uri"] = preview_data_uri(model, answer["result"].sample)
    return answer


def _sketch_models() -> list[Model]:
    return [m for m in runtime().registry if m.input_kind == "sketch"]


def _chosen_model(name: str | None) -> Model | None:
    """The sketch model named ``name``, else the default one (None when none is loaded)."""
    models = {m.name: m for m in _sketch_models()}
    if name in models:
        return models[name]
    return runtime().registry.default_for("sketch") if models else None


def _render_draw(status: int = 200, chosen: str | None = None, **answer) -> tuple[str, int]:
    model = _chosen_model(chosen or request.args.get("model"))
    page = render_template(
        "draw.html",
        models=_sketch_models(),
        chosen=model.name if model else None,
        **answer,
    )
    return page, status
