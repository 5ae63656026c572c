"""``/api/v1/taught``: make a classifier from examples, train it, export it, delete it.

Teachers and operators teach (``MODELPORT_TEACHING=everyone`` opens it to every visitor, for
a classroom); anyone may look. Once trained, a taught model is served like any other, at
``/api/v1/models/<name>/predict`` and ``/models/<name>``, by every worker of every replica.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from modelport import teaching
from modelport.inputs import InputError
from modelport.models.taught import TaughtModel
from modelport.models.taught_export import onnx_bytes, settings_toml
from modelport.store import taught as taught_store
from modelport.store.db import Store
from modelport.store.people import TEACHER
from modelport.store.taught_feed import taught_model
from modelport.web.auth import NotAllowed, current_caller
from modelport.web.request_input import json_body
from modelport.web.runtime import runtime

bp = Blueprint("teach_api", __name__)

PREFIX = "/api/v1/taught"


def _store() -> Store:
    return current_app.extensions["modelport_store"]


def may_teach() -> bool:
    return current_caller().at_least(TEACHER) or runtime().settings.teaching == "everyone"


def check_teacher() -> None:
    if may_teach():
        return
    if current_caller().role == "visitor":
        raise NotAllowed(401, "sign_in_required", "Sign in as a teacher to teach a model.")
    raise NotAllowed(403, "forbidden", "Teaching needs a teacher or an operator.")


def serve_changes_now() -> None:
    """This worker serves the change at once; the others within their next poll."""
    learning = runtime().learning
    if learning is not None:
        learning.try_sync()


def summary(taught: taught_store.Taught) -> dict:
    evaluation = taught.evaluation or {}
    served = taught_model(runtime().registry, taught.name) is not None
    return {
        "name": taught.name,
        "base": taught.base,
        "classes": [{"label": k, "examples": n} for k, n in taught.class_counts().items()],
        "examples": len(taught.examples),
        "trained": taught.trained,
        "served": served,
        "accuracy": evaluation.get("accuracy"),
        "created_at": taught.created_at.isoformat(timespec="seconds"),
        "created_by": taught.created_by,
        "page": f"/models/{taught.name}" if served else None,
        "predict": f"/api/v1/models/{taught.name}/predict" if served else None,
    }


def detail(taught: taught_store.Taught) -> dict:
    evaluation = taught.evaluation or {}
    return summary(taught) | {
        "confusion": evaluation.get("confusion"),
        "trained_at": evaluation.get("trained_at"),
        "example_list": [
            {
                "id": example.id,
                "label": example.label,
                "source": example.source,
                "thumbnail": f"{PREFIX}/{taught.name}/examples/{example.id}.jpg",
            }
            for example in taught.examples
        ],
    }


@bp.get(PREFIX)
def list_taught():
    return jsonify(models=[summary(t) for t in taught_store.everything(_store())])


@bp.post(PREFIX)
def create_taught():
    check_teacher()
    name = json_body(request).get("name")
    name = teaching.create(
        _store(), runtime().registry, name if isinstance(name, str) else "", current_caller().label
    )
    serve_changes_now()
    return jsonify(detail(teaching.existing(_store(), name))), 201


@bp.get(f"{PREFIX}/<name>")
def show_taught(name: str):
    return jsonify(detail(teaching.existing(_store(), name)))


@bp.delete(f"{PREFIX}/<name>")
def delete_taught(name: str):
    check_teacher()
    teaching.existing(_store(), name)
    taught_store.delete_model(_store(), name)
    serve_changes_now()
    return "", 204


@bp.post(f"{PREFIX}/<name>/examples")
def add_examples(name: str):
    """multipart/form-data: ``label`` and one or more ``file`` fields (``source``: upload
    or camera)."""
    check_teacher()
    taught = teaching.existing(_store(), name)
    files = request.files.getlist("file")
    if not files:
        raise InputError("no_pictures", "Send one or more pictures as 'file' fields.", 400)
    if len(files) > teaching.MAX_PICTURES_PER_REQUEST:
        raise InputError(
            "too_many_pictures",
            f"Send at most {teaching.MAX_PICTURES_PER_REQUEST} pictures at once.",
            413,
        )
    source = request.form.get("source", "upload")
    if source not in ("upload", "camera"):
        raise InputError("invalid_source", "source is upload or camera.", 400)
    rt = runtime()
    base = teaching.base_model(rt.registry)
    pictures = [(file.filename or "", file.read()) for file in files]
    examples = teaching.examples_from_pictures(
        base, pictures, request.form.get("label", ""), rt.limits, source, current_caller().label
    )
    ids = teaching.add_examples(_store(), rt.registry, taught.name, examples)
    serve_changes_now()
    return jsonify(detail(teaching.existing(_store(), name)) | {"added": ids}), 201


@bp.get(f"{PREFIX}/<name>/examples/<int:example_id>.jpg")
def example_thumbnail(name: str, example_id: int):
    picture = taught_store.thumbnail(_store(), name, example_id)
    if picture is None:
        raise InputError("unknown_example", f"{name} has no example {example_id}.", 404)
    response = Response(picture, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.delete(f"{PREFIX}/<name>/examples/<int:example_id>")
def delete_example(name: str, example_id: int):
    check_teacher()
    if not taught_store.delete_example(_store(), name, example_id):
        raise InputError("unknown_example", f"{name} has no example {example_id}.", 404)
    serve_changes_now()
    return "", 204


@bp.delete(f"{PREFIX}/<name>/classes/<label>")
def delete_class(name: str, label: str):
    check_teacher()
    teaching.existing(_store(), name)
    if not taught_store.delete_class(_store(), name, label):
        raise InputError("unknown_class", f"{name} has no class {label!r}.", 404)
    serve_changes_now()
    return "", 204


@bp.post(f"{PREFIX}/<name>/train")
def train_taught(name: str):
    check_teacher()
    _evaluation, train_ms = teaching.train(_store(), name)
    serve_changes_now()
    return jsonify(detail(teaching.existing(_store(), name)) | {"train_ms": round(train_ms, 2)})


def _served(name: str) -> TaughtModel:
    model = taught_model(runtime().registry, name)
    if model is None:
        teaching.existing(_store(), name)
        raise InputError("not_trained", f"{name} is not trained yet: train it first.", 409)
    return model


@bp.get(f"{PREFIX}/<name>/model.onnx")
def export_onnx(name: str):
    data = onnx_bytes(_served(name))
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}.onnx"'},
    )


@bp.get(f"{PREFIX}/<name>/modelport.toml")
def export_settings(name: str):
    return Response(
        settings_toml(_served(name)),
        mimetype="application/toml",
        headers={"Content-Disposition": 'attachment; filename="modelport.toml"'},
    )
