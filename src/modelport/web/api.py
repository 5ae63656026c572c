"""The JSON API: the classic ``/api/predict`` and the versioned ``/api/v1`` routes."""

from __future__ import annotations

import base64
import io

import numpy as np
from flask import Blueprint, Response, jsonify, request
from PIL import Image

from modelport.inputs import InputError
from modelport.models.base import Model
from modelport.service import PredictionResult, predict_bytes, predict_rows
from modelport.web.auth import visitor_owner
from modelport.web.limits import limited
from modelport.web.request_input import image_from_json, image_from_request, json_body, top_k_option
from modelport.web.runtime import runtime

bp = Blueprint("api", __name__)

DEFAULT_TOP_K = {"sketch": 10, "photo": 5, "tabular": 5}


def _prefers_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    return best == "application/json"


def _model(name: str | None, kind: str = "sketch") -> Model:
    registry = runtime().registry
    return registry.get(name) if name else registry.default_for(kind)


@bp.post("/api/predict")
@limited("predict")
def classic_predict():
    """The classic contract: JSON ``{"image": data URI}`` in, the digit as plain text out.
    ``"draft": true`` (a drawing still being drawn) is answered without being stored."""
    body = json_body(request)
    data = image_from_json(body)
    model = _model(body.get("model") if isinstance(body.get("model"), str) else None)
    rt = runtime()
    draft = body.get("draft") is True
    recorder = None if draft else rt.recorder
    result = predict_bytes(model, data, rt.limits, recorder=recorder, owner=visitor_owner())
    if not _prefers_json():
        return Response(result.best.label + "\n", mimetype="text/plain")
    return jsonify(classic_json(result) | ({"id": None} if draft else {}))


def classic_json(result: PredictionResult) -> dict:
    model = result.model
    label = result.best.label
    return {
        "id": result.id,
        "digit": int(label) if label.isdigit() else label,
        "probabilities": [round(float(p), 6) for p in result.probabilities],
        "top": [{"label": p.label, "score": round(p.score, 6)} for p in result.predictions[:3]],
        "model": model.name,
        "version": model.version,
        "latency_ms": round(result.latency_ms, 3),
        "preview": preview_data_uri(model, result.sample),
    }


def preview_data_uri(model: Model, sample: np.ndarray) -> str | None:
    picture = model.preview(sample)
    if picture is None:
        return None
    buffer = io.BytesIO()
    Image.fromarray(picture, "L").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.post("/api/v1/models/<name>/predict")
@limited("predict")
def model_predict(name: str):
    model = _model(name)
    if model.input_kind == "tabular":
        return _predict_rows(model)
    data, options = image_from_request(request)
    top_k = top_k_option(
        request.args.get("top_k", options.get("top_k")), DEFAULT_TOP_K[model.input_kind]
    )
    rt = runtime()
    result = predict_bytes(
        model, data, rt.limits, top_k=top_k, recorder=rt.recorder, owner=visitor_owner()
    )
    return jsonify(result.as_json())


def _predict_rows(model: Model):
    """``{"inputs": {feature: value}}`` answers like a picture; a list of rows answers
    ``{"model", "version", "results": [one answer per row]}``."""
    body = json_body(request)
    if "inputs" not in body:
        raise InputError(
            "missing_inputs",
            "Send JSON {'inputs': {feature: value, ...}}, or a list of such rows.",
            400,
        )
    top_k = top_k_option(request.args.get("top_k", body.get("top_k")), DEFAULT_TOP_K["tabular"])
    rt = runtime()
    results = predict_rows(
        model, body["inputs"], top_k=top_k, recorder=rt.recorder, owner=visitor_owner()
    )
    if not isinstance(body["inputs"], list):
        return jsonify(results[0].as_json())
    return jsonify(model=model.name, version=model.version, results=[r.as_json() for r in results])


@bp.get("/api/v1/models")
def list_models():
    return jsonify(models=[model.describe() for model in runtime().registry])


@bp.get("/api/v1/models/<name>")
def describe_model(name: str):
    model = _model(name)
    return jsonify(model.describe() | {"labels": model.labels})
