"""``GET /openapi.json`` (OpenAPI 3.1, generated per running app) and ``GET /docs`` (Swagger UI).

The paths come from the app's ``url_map`` (every rule under ``/api``, ``/v2``, ``/healthz``,
``/readyz`` and ``/metrics``); each view's operation (parameters, bodies, responses) is
described in ``OPERATIONS`` below, keyed by endpoint, and the JSON Schemas of the bodies are
generated from the pydantic models here. The loaded models appear where a client needs them:
``{name}`` is an enum of their names, and the predict operations list each model's input
kind, labels and features, with a ready-made example per model.

apispec assembles the document (components, security scheme, paths); Swagger UI is served
from the ``flask-openapi3-swagger`` wheel's files (Swagger UI 5, which reads OpenAPI 3.1),
with ``static/js/docs.js`` as its initialiser: the CSP allows no inline script.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from apispec import APISpec
from flask import Blueprint, Flask, current_app, jsonify, render_template, send_from_directory
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from modelport import __version__
from modelport.models.base import Model
from modelport.store.queries import MAX_PAGE_SIZE
from modelport.web.api import DEFAULT_TOP_K
from modelport.web.chart import MAX_BARS
from modelport.web.model_pages import example_row
from modelport.web.request_input import MAX_TOP_K
from modelport.web.runtime import runtime

bp = Blueprint("openapi", __name__)

DOCUMENTED_PREFIXES = ("/api/", "/v2")
DOCUMENTED_PATHS = {"/healthz", "/readyz", "/metrics"}
SPEC_KEY = "modelport_openapi"
LABELS_SHOWN = 20  # a model with 1000 classes lists its first ones and says how many


def swagger_ui_folder() -> Path:
    import flask_openapi3_swagger

    return Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"


# Bodies, as JSON Schemas generated from these models.


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    """Every 4xx and 5xx of the JSON API."""

    error: str = Field(description="A machine code, e.g. invalid_top_k, unknown_model.")
    detail: str = Field(description="A sentence for a person, saying what to change.")


class V2Error(_Open):
    """The V2 protocol's error: ``error`` is the message and ``code`` the machine code
    (a refusal before the route, such as a bad token, answers ``{error, detail}``)."""

    error: str
    code: str | None = None
    detail: str | None = None


class Score(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    """One answer: the top classes, best first, and the id to send feedback on."""

    id: str
    model: str
    version: str
    predictions: list[Score]
    latency_ms: float


class RowsAnswer(BaseModel):
    """A list of rows sent as ``inputs``: one answer per row."""

    model: str
    version: str
    results: list[Prediction]


class ClassicAnswer(BaseModel):
    id: str | None = Field(description="The stored prediction's id; null for a draft.")
    digit: int | str = Field(description="The best label (a number for a digit).")
    probabilities: list[float]
    top: list[Score]
    model: str
    version: str
    latency_ms: float
    preview: str | None = Field(description="What the model saw, as a PNG data URI.")


class ModelSummary(_Open):
    name: str
    version: str
    input_kind: str = Field(description="sketch, photo or tabular.")
    labels: int = Field(description="How many classes.")
    description: str | None = None
    metrics: dict[str, Any] | None = None
    features: list[dict[str, Any]] | None = None


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelDetail(ModelSummary):
    labels: list[str] = Field(description="Every class the model answers.")  # type: ignore[assignment]


class ImageRequest(_Open):
    image: str = Field(description="The picture as a data URI: data:image/png;base64,...")
    top_k: int | str | None = Field(None, description=f"1 to {MAX_TOP_K}.")


class ClassicRequest(_Open):
    image: str = Field(description="The drawing as a data URI: data:image/png;base64,...")
    model: str | None = Field(None, description="A sketch model; the default one if left out.")
    draft: bool = Field(
        False,
        description="A drawing still being drawn (the page's live answers): answered, "
        "not stored, so it has no id and takes no feedback.",
    )


class RowsRequest(_Open):
    inputs: dict[str, Any] | list[dict[str, Any]] = Field(
        description="One row {feature: value}, or a list of rows (one answer each)."
    )
    top_k: int | str | None = None


class Upload(BaseModel):
    file: bytes = Field(json_schema_extra={"format": "binary"})
    top_k: str | None = None


class Feedback(BaseModel):
    label: str | int = Field(description="What the prediction should have been.")


class FeedbackState(BaseModel):
    label: str
    is_correct: bool
    created_at: str
    status: str = Field(description="trusted, suggested, accepted or rejected.")


class PredictionRecord(_Open):
    id: str
    created_at: str
    model: str
    model_version: str
    input_kind: str
    label: str
    score: float
    predictions: list[dict[str, Any]]
    latency_ms: float
    feedback: FeedbackState | None
    inputs: dict[str, Any] | None = None


class PredictionPage(BaseModel):
    predictions: list[PredictionRecord]
    page: int
    per_page: int
    pages: int
    total: int


class FeedbackAnswer(BaseModel):
    id: str
    model: str
    predicted: str
    label: str
    is_correct: bool
    learned: bool = Field(description="Whether the model has learned the answer already.")
    suggestion: bool = Field(description="Whether it waits for an operator's review.")
    status: str


class Me(BaseModel):
    role: str
    name: str | None
    via: str | None


class Alive(BaseModel):
    status: str


class Ready(_Open):
    status: str
    pid: int
    models: dict[str, str]
    warmup_ms: dict[str, float] | None = None
    recording: str | None = None
    recording_backlog: int | None = None


class NotReady(Ready):
    error: str
    detail: str


class V2Server(BaseModel):
    name: str
    version: str
    extensions: list[str]


class V2TensorMeta(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMeta(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMeta]
    outputs: list[V2TensorMeta]


class V2Tensor(_Open):
    name: str
    datatype: str = Field(description="BYTES, FP32 or FP64.")
    shape: list[int] = Field(description="Batch first.")
    data: list[Any] | None = None
    parameters: dict[str, Any] | None = None


class V2Output(_Open):
    name: str
    parameters: dict[str, Any] | None = None


class V2Request(_Open):
    id: str | None = None
    inputs: list[V2Tensor]
    outputs: list[V2Output] | None = None
    parameters: dict[str, Any] | None = None


class V2Response(_Open):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any]
    outputs: list[dict[str, Any]]


SCHEMAS: tuple[type[BaseModel], ...] = (
    Error,
    V2Error,
    Prediction,
    RowsAnswer,
    ClassicAnswer,
    ModelList,
    ModelDetail,
    ImageRequest,
    ClassicRequest,
    RowsRequest,
    Upload,
    Feedback,
    PredictionPage,
    FeedbackAnswer,
    Me,
    Alive,
    Ready,
    NotReady,
    V2Server,
    V2ModelMeta,
    V2Request,
    V2Response,
)


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": f"#/components/schemas/{name}"}


def component_schemas() -> dict[str, dict[str, Any]]:
    from modelport.web import openapi_teach  # it builds on this module's helpers

    _, top = models_json_schema(
        [(model, "validation") for model in (*SCHEMAS, *openapi_teach.SCHEMAS)],
        ref_template="#/components/schemas/{model}",
    )
    return top["$defs"]


# Responses.

ERROR_WORDS = {
    400: "The request is malformed or a value is out of range.",
    401: "An unknown or revoked API token, or sign-in required.",
    403: "Not allowed for this caller, or a cross-site write.",
    404: "No such model, prediction or route.",
    405: "This path takes another method.",
    409: "In conflict: already judged, a name taken, or a model not trained yet.",
    413: "The body is over the upload limit.",
    415: "The body's content type is not one this route takes.",
    422: "The input is well formed but not usable (e.g. not a picture, an unknown label).",
    503: "The database or a model is not available just now; try again later.",
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def errors(*codes: int, schema: type[BaseModel] = Error, limited: bool = False) -> dict:
    """The error responses of an operation (401 and 503 for any: a bad token, the database)."""
    answers: dict[str, Any] = {}
    for code in sorted({*codes, 401, 503}):
        answers[str(code)] = {
            "description": ERROR_WORDS[code],
            "content": json_content(ref(schema)),
        }
    if limited:
        answers["429"] = {
            "description": "Over the rate limit for this client.",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer"},
                }
            },
            "content": json_content(ref(schema)),
        }
    return answers


def ok(description: str, content: dict[str, Any] | None = None, **extra) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, **extra}
    if content is not None:
        answer["content"] = content
    return {"200": answer}


def binary(*types: str) -> dict[str, Any]:
    return {t: {"schema": {"type": "string", "format": "binary"}} for t in types}


# Parameters.


def path_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def query(name: str, description: str, schema: dict[str, Any], **extra) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def model_param(models: list[Model], kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = [m.name for m in models if kinds is None or m.input_kind in kinds]
    return path_param(
        "name",
        "A loaded model's name: " + "; ".join(f"{m.name} ({m.input_kind})" for m in models),
        {"type": "string", "enum": names} if names else {"type": "string"},
    )


PREDICTION_ID = path_param(
    "prediction_id", "The id a prediction answered with (20 hex digits).", {"type": "string"}
)
TOP_K = query(
    "top_k",
    f"How many classes to answer, 1 to {MAX_TOP_K} (default: sketch "
    f"{DEFAULT_TOP_K['sketch']}, photo {DEFAULT_TOP_K['photo']}, tabular "
    f"{DEFAULT_TOP_K['tabular']}).",
    {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K},
)
HISTORY_FILTER = [
    query("model", "Only this model's predictions.", {"type": "string"}),
    query(
        "corrected",
        "Only corrected (true) or uncorrected (false) predictions; all when left out.",
        {"type": "string", "enum": ["true", "false", "yes", "no", "1", "0", "all"]},
    ),
]


# What the loaded models take: in descriptions and examples.


def model_words(model: Model) -> str:
    labels = model.labels
    shown = ", ".join(labels[:LABELS_SHOWN])
    more = f", … ({len(labels)} in all)" if len(labels) > LABELS_SHOWN else ""
    words = f"- **{model.name}** {model.version}: {model.input_kind}; labels {shown}{more}"
    if model.input_kind == "tabular":
        features = ", ".join(
            f"{f.name} ({'one of ' + '/'.join(f.choices) if f.choices else f.type})"
            for f in model.features
        )
        words += f"; features {features}"
    return words


def models_words(models: list[Model]) -> str:
    return "\n\nThe models loaded here:\n\n" + "\n".join(model_words(m) for m in models)


TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def predict_examples(models: list[Model]) -> dict[str, Any]:
    examples = {}
    for model in models:
        if model.input_kind == "tabular":
            value: dict[str, Any] = {"inputs": example_row(model)}
        else:
            value = {"image": TINY_PNG, "top_k": DEFAULT_TOP_K[model.input_kind]}
        examples[model.name] = {"summary": f"{model.name} ({model.input_kind})", "value": value}
    return examples


# The operations, by endpoint.


def operations(models: list[Model]) -> dict[str, dict[str, dict[str, Any]]]:
    pictures = [m for m in models if m.input_kind != "tabular"]
    image_body = {
        "required": True,
        "description": "The picture, in any of these forms; a tabular model takes JSON "
        '`{"inputs": {feature: value}}` (or a list of rows).',
        "content": {
            "application/json": {
                "schema": {"anyOf": [ref(ImageRequest), ref(RowsRequest)]},
                "examples": predict_examples(models),
            },
            "multipart/form-data": {"schema": ref(Upload)},
            **binary("image/png", "image/jpeg", "application/octet-stream"),
        },
    }
    model = model_param(models)
    v2_version = path_param("version", "The model's version.", {"type": "string"})
    v2_errors = errors(400, 404, 405, schema=V2Error)
    infer = {
        "post": {
            "tags": ["V2 inference protocol"],
            "summary": "Infer (JSON, or binary tensors after a JSON header)",
            "description": "A picture model takes `image` (BYTES [N], base64 in JSON) or "
            "`input` (FP32 [N, *shape], see the model's metadata); a tabular model one input "
            "per feature, shape [N]. The prediction ids are in `parameters.prediction_ids`."
            + models_words(models),
            "parameters": [
                model,
                {
                    "name": "Inference-Header-Content-Length",
                    "in": "header",
                    "description": "With a binary body: the length of its JSON header.",
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    **json_content(ref(V2Request)),
                    **binary("application/octet-stream"),
                },
            },
            "responses": ok(
                "The outputs (binary after the JSON header when asked).",
                {**json_content(ref(V2Response)), **binary("application/octet-stream")},
            )
            | errors(400, 404, 405, 413, 415, 422, schema=V2Error, limited=True),
        }
    }
    v2_meta = {
        "get": {
            "tags": ["V2 inference protocol"],
            "summary": "Model metadata: inputs, outputs, platform",
            "parameters": [model],
            "responses": ok("The model's metadata.", json_content(ref(V2ModelMeta))) | v2_errors,
        }
    }
    v2_ready = {
        "get": {
            "tags": ["V2 inference protocol"],
            "summary": "Whether the model is ready",
            "parameters": [model],
            "responses": ok("Ready (no body).") | v2_errors,
        }
    }

    def versioned(operation: dict[str, Any]) -> dict[str, Any]:
        method, spec = next(iter(operation.items()))
        return {method: spec | {"parameters": [*spec["parameters"], v2_version]}}

    rest = path_param("rest", "Any other path under /v2.", {"type": "string"})
    no_route = {
        "description": "Not a V2 route: 404, or 405 with Allow for another method.",
        "parameters": [rest],
        "responses": errors(404, 405, schema=V2Error),
    }
    return {
        "api.classic_predict": {
            "post": {
                "tags": ["Predict"],
                "summary": "The classic contract: a drawing in, the digit out",
                "description": "Plain text (the best label) unless the caller accepts "
                "application/json." + models_words([m for m in models if m.input_kind == "sketch"]),
                "requestBody": {"required": True, "content": json_content(ref(ClassicRequest))},
                "responses": ok(
                    "The best label (text/plain), or the whole answer as JSON.",
                    {
                        "text/plain": {"schema": {"type": "string"}},
                        **json_content(ref(ClassicAnswer)),
                    },
                )
                | errors(400, 404, 413, 415, 422, limited=True),
            }
        },
        "api.model_predict": {
            "post": {
                "tags": ["Predict"],
                "summary": "Predict with a model: its top classes",
                "description": 'A picture model takes the image as JSON `{"image": data URI}`, '
                "a multipart `file` or the raw bytes (image/png, image/jpeg, "
                'application/octet-stream); a tabular model takes JSON `{"inputs": '
                "{feature: value}}` (a list of rows answers one result per row)."
                + models_words(models),
                "parameters": [model, TOP_K],
                "requestBody": image_body,
                "responses": ok(
                    "The top classes (a list of rows: one answer per row).",
                    json_content({"anyOf": [ref(Prediction), ref(RowsAnswer)]}),
                )
                | errors(400, 404, 413, 415, 422, limited=True),
            }
        },
        "api.list_models": {
            "get": {
                "tags": ["Models"],
                "summary": "The loaded models",
                "responses": ok("Every loaded model.", json_content(ref(ModelList))) | errors(),
            }
        },
        "api.describe_model": {
            "get": {
                "tags": ["Models"],
                "summary": "One model, with its labels",
                "description": "Its input kind, features and every label." + models_words(models),
                "parameters": [model],
                "responses": ok("The model.", json_content(ref(ModelDetail))) | errors(404),
            }
        },
        "photo.chart_from_image": {
            "post": {
                "tags": ["Predict"],
                "summary": "Predict and chart: the top classes as a PNG bar chart",
                "description": "The image as for predict; the prediction id in X-Prediction-Id."
                + models_words(pictures),
                "parameters": [model_param(models, ("sketch", "photo")), TOP_K],
                "requestBody": image_body,
                "responses": ok(
                    "A bar chart.",
                    binary("image/png"),
                    headers={"X-Prediction-Id": {"schema": {"type": "string"}}},
                )
                | errors(400, 404, 413, 415, 422, limited=True),
            }
        },
        "photo.chart_from_scores": {
            "get": {
                "tags": ["Predict"],
                "summary": "Any top-k list as a PNG bar chart",
                "parameters": [
                    query(
                        "label",
                        f"One per bar, up to {MAX_BARS}.",
                        {"type": "array", "items": {"type": "string"}},
                        style="form",
                        explode=True,
                    ),
                    query(
                        "score",
                        "One per label, 0 to 1.",
                        {"type": "array", "items": {"type": "number"}},
                        style="form",
                        explode=True,
                    ),
                    query("title", "A title above the bars.", {"type": "string"}),
                ],
                "responses": ok("A bar chart.", binary("image/png")) | errors(400),
            }
        },
        "history.list_predictions": {
            "get": {
                "tags": ["History"],
                "summary": "Predictions, newest first (a visitor sees their own)",
                "parameters": [
                    *HISTORY_FILTER,
                    query("page", "From 1.", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                    query(
                        "per_page",
                        f"1 to {MAX_PAGE_SIZE}.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                    ),
                ],
                "responses": ok("A page of predictions.", json_content(ref(PredictionPage)))
                | errors(400),
            }
        },
        "history.export_predictions": {
            "get": {
                "tags": ["History"],
                "summary": "Predictions as CSV (streamed)",
                "parameters": HISTORY_FILTER,
                "responses": ok(
                    "CSV, a header row first.", {"text/csv": {"schema": {"type": "string"}}}
                )
                | errors(400),
            }
        },
        "history.prediction_input": {
            "get": {
                "tags": ["History"],
                "summary": "The input a prediction was made from (a picture, or a row as JSON)",
                "parameters": [PREDICTION_ID],
                "responses": ok(
                    "The stored input.", {"*/*": {"schema": {"type": "string", "format": "binary"}}}
                )
                | errors(404),
            }
        },
        "history.prediction_feedback": {
            "post": {
                "tags": ["History"],
                "summary": "Say what a prediction should have been",
                "description": "A teacher's or operator's answer is trusted (and learned by "
                "models that can); a visitor's is a suggestion for an operator to review.",
                "parameters": [PREDICTION_ID],
                "requestBody": {"required": True, "content": json_content(ref(Feedback))},
                "responses": ok("The feedback.", json_content(ref(FeedbackAnswer)))
                | errors(400, 403, 404, 409, 413, 415, 422, limited=True),
            }
        },
        "review.accept_feedback": {
            "post": {
                "tags": ["History"],
                "summary": "Accept a visitor's suggestion (operators)",
                "parameters": [PREDICTION_ID],
                "security": [{"bearer": []}],
                "responses": ok("The feedback, accepted.", json_content(ref(FeedbackAnswer)))
                | errors(403, 404, 409),
            }
        },
        "review.reject_feedback": {
            "post": {
                "tags": ["History"],
                "summary": "Reject a visitor's suggestion (operators)",
                "parameters": [PREDICTION_ID],
                "security": [{"bearer": []}],
                "responses": ok("The feedback, rejected.", json_content(ref(FeedbackAnswer)))
                | errors(403, 404, 409),
            }
        },
        "auth.me": {
            "get": {
                "tags": ["Accounts"],
                "summary": "Who the server takes the caller for",
                "responses": ok("The caller.", json_content(ref(Me))) | errors(),
            }
        },
        "health.healthz": {
            "get": {
                "tags": ["Operations"],
                "summary": "Liveness: the process answers",
                "security": [],
                "responses": ok("Alive.", json_content(ref(Alive))) | errors(),
            }
        },
        "health.readyz": {
            "get": {
                "tags": ["Operations"],
                "summary": "Readiness: every model loaded and warmed, predictions stored",
                "security": [],
                "responses": ok("Ready.", json_content(ref(Ready)))
                | errors()
                | {
                    "503": {
                        "description": "Not ready, and why.",
                        "content": json_content(ref(NotReady)),
                    }
                },
            }
        },
        "observability.metrics": {
            "get": {
                "tags": ["Operations"],
                "summary": "Prometheus metrics (this machine, MODELPORT_METRICS_ALLOW, operators)",
                "responses": ok(
                    "The Prometheus text format.", {"text/plain": {"schema": {"type": "string"}}}
                )
                | errors(403),
            }
        },
        "v2.server_metadata": {
            "get": {
                "tags": ["V2 inference protocol"],
                "summary": "Server metadata",
                "responses": ok("The server.", json_content(ref(V2Server)))
                | errors(schema=V2Error),
            }
        },
        "v2.server_live": {
            "get": {
                "tags": ["V2 inference protocol"],
                "summary": "Server liveness",
                "responses": ok("Alive (no body).") | errors(schema=V2Error),
            }
        },
        "v2.server_ready": {
            "get": {
                "tags": ["V2 inference protocol"],
                "summary": "Server readiness",
                "responses": ok("Ready (no body).") | errors(schema=V2Error),
            }
        },
        "v2.model_metadata": {"/v2/models/{name}": v2_meta, "versioned": versioned(v2_meta)},
        "v2.model_ready": {"/v2/models/{name}/ready": v2_ready, "versioned": versioned(v2_ready)},
        "v2.infer": {"/v2/models/{name}/infer": infer, "versioned": versioned(infer)},
        "v2.no_such_route": {
            method: {"tags": ["V2 inference protocol"], "summary": f"Not a route ({method})"}
            | no_route
            for method in ("get", "post", "put", "patch", "delete")
        },
    }


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def documented(rule: str) -> bool:
    return rule.startswith(DOCUMENTED_PREFIXES) or rule in DOCUMENTED_PATHS


def build_spec(app: Flask) -> dict[str, Any]:
    models = list(app.extensions["modelport"].registry)
    spec = APISpec(
        title="Modelport",
        version=__version__,
        openapi_version="3.1.0",
        info={
            "description": "Put a trained model in front of people: predictions, their "
            "history and feedback, and the V2 Open Inference Protocol. Errors are JSON "
            '`{"error": code, "detail": sentence}` (the V2 routes: `{"error", "code"}`).'
            + models_words(models)
        },
    )
    spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`modelport token create --role teacher NAME`); "
            "without one, the caller is a visitor.",
        },
    )
    for name, schema in component_schemas().items():
        spec.components.schema(name, schema)
    from modelport.web import openapi_teach

    by_endpoint = operations(models) | openapi_teach.operations()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not documented(rule.rule):
            continue
        path = openapi_path(rule.rule)
        described = by_endpoint.get(rule.endpoint)
        if described is None:
            raise LookupError(f"{rule.rule} ({rule.endpoint}) has no operation in web/openapi.py")
        if "versioned" in described:  # one view, two rules
            described = described["versioned" if "{version}" in path else path]
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        spec.path(
            path=path,
            operations={m: op for m, op in described.items() if m in methods},
        )
    document = spec.to_dict()
    document["security"] = [{"bearer": []}, {}]  # a token is optional: a visitor is a caller
    return document


def openapi_document(app: Flask) -> dict[str, Any]:
    """Built once per set of served models (a taught model trained since is in the next)."""
    served = tuple(sorted(app.extensions["modelport"].registry.models))
    cached = app.extensions.get(SPEC_KEY)
    if cached is None or cached[0] != served:
        cached = app.extensions[SPEC_KEY] = (served, build_spec(app))
    return cached[1]


@bp.get("/openapi.json")
def openapi_json():
    runtime()
    return jsonify(openapi_document(current_app))


@bp.get("/docs")
def docs():
    return render_template("docs.html")


@bp.get("/docs/swagger/<path:filename>")
def swagger_file(filename: str):
    return send_from_directory(swagger_ui_folder(), filename, max_age=86400)
