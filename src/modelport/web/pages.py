"""The pages people use: the model list and the drawing page (each model's own page is in
``model_pages``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

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
    registry = runtime().registry
    sketch_models = [m for m in registry if m.input_kind == "sketch"]
    chosen = request.args.get("model")
    if chosen not in {m.name for m in sketch_models}:
        chosen = registry.default_for("sketch").name if sketch_models else None
    return render_template("draw.html", models=sketch_models, chosen=chosen)
