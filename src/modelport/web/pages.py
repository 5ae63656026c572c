"""The pages people use: the model list and the drawing page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from modelport.web.runtime import runtime

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html", models=list(runtime().registry))


@bp.get("/draw")
def draw():
    registry = runtime().registry
    sketch_models = [m for m in registry if m.input_kind == "sketch"]
    chosen = request.args.get("model")
    if chosen not in {m.name for m in sketch_models}:
        chosen = registry.default_for("sketch").name if sketch_models else None
    return render_template("draw.html", models=sketch_models, chosen=chosen)
