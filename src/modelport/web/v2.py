"""The V2 Open Inference Protocol (KServe, Triton, MLServer) over REST, beside ``/api/v1``.

Routes: ``GET /v2`` (server metadata), ``GET /v2/health/live`` and ``/v2/health/ready``
(``/readyz``'s meaning: every configured model loaded and warmed), ``GET /v2/models/<name>``
(model metadata), ``GET /v2/models/<name>/ready``, ``POST /v2/models/<name>/infer``; each
model route also as ``/v2/models/<name>/versions/<version>/...`` (another version: 404).

What a model takes (its metadata says the same):

- a picture model, exactly one of
  - ``image``, BYTES ``[N]``: encoded pictures (PNG, JPEG, WebP, GIF, BMP), decoded and
    prepared as ``/api/v1`` does. In a JSON body each element is base64 (a data URI is
    fine too); in the binary form it is the file's bytes;
  - ``input``, FP32 ``[N, *shape]``: inputs already prepared, in the model's own shape;
- a tabular model: one input per feature, named as the feature, shape ``[N]`` (or
  ``[N, 1]``): FP32 for a number (FP64 is taken too), BYTES for a category (UTF-8 text,
  not base64). One input per feature rather than one ``[N, F]`` tensor, because a row mixes
  numbers and text.

What it answers: ``probabilities``, FP32 ``[N, classes]``; with the classification
extension (``"parameters": {"classification": k}`` on the output) the ``k`` best classes
as BYTES ``[N, k]`` strings ``"score:index:label"``, as Triton answers them. Outputs come
in the JSON body, or after it in the binary form when asked (``binary_data`` on an output,
``binary_data_output`` on the request). The prediction ids (for feedback) are in the
answer's ``parameters.prediction_ids``, comma-separated.

A batch (N > 1) is one call of the model, so it goes through the dynamic batcher as one
piece. Each item is recorded in the history like a ``/api/v1`` prediction
(``service._finish``); an FP32 input has no picture to keep: the history keeps a picture
rebuilt from the tensor (what the model saw) and a small JSON note as its input.

The body is ``application/json``, or ``application/octet-stream`` with the
``Inference-Header-Content-Length`` header (the binary tensor extension); a body without a
content type (tritonclient sends none) is read as the header says. Errors answer the
protocol's ``{"error": message}`` with a machine ``code`` beside it, never a page; what is
refused before the request gets here (a bad token, a rate limit) answers as on ``/api/``,
``{"error": code, "detail": message}``. A batch takes at most ``MAX_BATCH`` items.
"""

from __future__ import annotations

import json
import logging
import math
import struct
import time
import weakref
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
from flask import Blueprint, Response, current_app, request
from PIL import Image
from werkzeug.exceptions import HTTPException

from modelport import __version__
from modelport.inputs import InputError
from modelport.inputs.decode import bytes_from_data_uri
from modelport.models.base import Model, UnknownModel
from modelport.models.batching import unwrapped
from modelport.models.runtimes import OnnxRunner, SkopsRunner
from modelport.models.warmup import sample_image
from modelport.service import PredictionResult, _finish, counting_failures, predict_rows
from modelport.web.api import DEFAULT_TOP_K
from modelport.web.auth import visitor_owner
from modelport.web.errors import HTTP_CODES, unknown_model_detail
from modelport.web.health import WARMED, readiness
from modelport.web.limits import limited
from modelport.web.runtime import runtime
from modelport.web.security import csrf

log = logging.getLogger(__name__)

bp = Blueprint("v2", __name__, url_prefix="/v2")
csrf.exempt(bp)  # programs post here, with JSON or binary bodies, never a page's form

SERVER_NAME = "modelport"
EXTENSIONS = ["classification", "binary_tensor_data"]
HEADER_LENGTH = "Inference-Header-Content-Length"
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
IMAGE_INPUT = "image"
TENSOR_INPUT = "input"
OUTPUT = "probabilities"
MAX_BATCH = 32
# The decoded pictures of one request hold at most this many times the pixels one picture
# may have (MODELPORT_MAX_IMAGE_PIXELS): a batch of huge PNGs must not fill the memory.
MAX_BATCH_PIXELS_FACTOR = 2
NUMBER_TYPES = {"FP32": "<f4", "FP64": "<f8"}

_input_shapes: weakref.WeakKeyDictionary[Model, tuple[int, ...]] = weakref.WeakKeyDictionary()


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    # A number tensor as an array of its shape; BYTES as a flat list (str from JSON,
    # bytes from the binary form).
    values: Any

    @property
    def batch(self) -> int:
        return self.shape[0] if self.shape else 0


@dataclass
class RequestedOutput:
    name: str
    binary: bool
    classes: int  # 0: the probabilities themselves


def _bad(detail: str, code: str = "bad_request", status: int = 400) -> InputError:
    return InputError(code, detail, status)


# Errors: the protocol's {"error": ...}, whatever the caller accepts.


def _error(detail: str, status: int, code: str) -> Response:
    body = json.dumps({"error": detail, "code": code})
    return Response(body, status=status, mimetype=JSON_TYPE)


@bp.errorhandler(InputError)
def _on_input_error(exc: InputError):
    return _error(exc.detail, exc.status, exc.code)


@bp.errorhandler(UnknownModel)
def _on_unknown_model(exc: UnknownModel):
    return _error(unknown_model_detail(exc), 404, "unknown_model")


@bp.errorhandler(HTTPException)
def _on_http_error(exc: HTTPException):
    status = exc.code or 500
    detail = exc.description or exc.name
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        detail = f"The request is over the {limit} MB limit."
    response = _error(detail, status, HTTP_CODES.get(status, "http_error"))
    for key, value in exc.get_headers():
        if key in ("Retry-After", "Allow"):  # a rate limit's or a 405's own headers
            response.headers[key] = value
    return response


# Server and model metadata, health.


@bp.get("")
def server_metadata():
    return _json({"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS})


@bp.get("/health/live")
def server_live():
    return Response(status=200)


@bp.get("/health/ready")
def server_ready():
    ready, _ = readiness(current_app)
    if not ready:
        return _error("Some models are not loaded yet or failed to load.", 503, "not_ready")
    return Response(status=200)


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None):
    model = _model(name, version)
    return _json(
        {
            "name": model.name,
            "versions": [model.version],
            "platform": platform(model),
            "inputs": model_inputs(model),
            "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, len(model.labels)]}],
        }
    )


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None):
    _model(name, version)
    if current_app.extensions.get(WARMED) is None:
        return _error(f"Model {name!r} is not warmed up yet.", 503, "not_ready")
    return Response(status=200)


def _model(name: str, version: str | None) -> Model:
    registry = runtime().registry
    if name in registry.failures:
        raise _bad(f"Model {name!r} is not ready: {registry.failures[name]}", "not_ready", 503)
    model = registry.get(name)
    if version is not None and version != model.version:
        raise _bad(
            f"Model {name!r} has no version {version!r}: it serves version {model.version!r}.",
            "unknown_version",
            404,
        )
    return model


def platform(model: Model) -> str:
    """The runtime in the protocol's words: ``onnxruntime_onnx``, ``sklearn`` or ``python``."""
    inner = unwrapped(model)
    runner = getattr(inner, "runner", None)
    if isinstance(runner, OnnxRunner):
        return "onnxruntime_onnx"
    if isinstance(runner, SkopsRunner):
        return "sklearn"
    return "python"


def input_shape(model: Model) -> tuple[int, ...]:
    """One prepared input's shape (no batch axis), found once by preparing a sample."""
    shape = _input_shapes.get(model)
    if shape is None:
        shape = tuple(int(d) for d in model.prepare(sample_image(model.input_kind)).shape)
        _input_shapes[model] = shape
    return shape


def model_inputs(model: Model) -> list[dict[str, Any]]:
    if model.input_kind == "tabular":
        return [
            {
                "name": feature.name,
                "datatype": "FP32" if feature.type == "number" else "BYTES",
                "shape": [-1],
            }
            for feature in model.features
        ]
    return [
        {"name": IMAGE_INPUT, "datatype": "BYTES", "shape": [-1]},
        {"name": TENSOR_INPUT, "datatype": "FP32", "shape": [-1, *input_shape(model)]},
    ]


# Inference.


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
@limited("predict")
def infer(name: str, version: str | None = None):
    model = _model(name, version)
    header, binary = _read_body()
    request_id = header.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("'id' must be a string.")
    tensors = _tensors(header, binary)
    outputs = _requested_outputs(header)
    if model.input_kind == "tabular":
        results = _predict_table(model, tensors)
    else:
        results = _predict_pictures(model, tensors)
    return _answer(model, request_id, results, outputs)


def _read_body() -> tuple[dict[str, Any], bytes]:
    """The JSON inference header, and the binary tensor data after it (if any)."""
    if request.content_encoding:
        raise _bad(
            f"Content-Encoding {request.content_encoding!r} is not supported: send the body "
            "uncompressed.",
            "unsupported_media_type",
            415,
        )
    mimetype = request.mimetype or ""
    if mimetype not in {"", JSON_TYPE, BINARY_TYPE}:
        raise _bad(
            f"A V2 request is {JSON_TYPE}, or {BINARY_TYPE} with the {HEADER_LENGTH} header, "
            f"not {mimetype}.",
            "unsupported_media_type",
            415,
        )
    data = request.get_data(cache=False)
    length = request.headers.get(HEADER_LENGTH)
    if length is None:
        if mimetype == BINARY_TYPE:
            raise _bad(f"A binary request needs the {HEADER_LENGTH} header.")
        head, binary = data, b""
    else:
        try:
            size = int(length)
        except ValueError:
            raise _bad(f"{HEADER_LENGTH} must be a whole number of bytes.") from None
        if not 0 < size <= len(data):
            raise _bad(f"{HEADER_LENGTH} is {size}, but the body has {len(data)} bytes.")
        head, binary = data[:size], data[size:]
    if not head:
        raise _bad("The request body is empty: send the inference request as JSON.")
    try:
        header = json.loads(head)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise _bad("The inference request is not valid JSON.", "invalid_json") from None
    if not isinstance(header, dict):
        raise _bad("The inference request must be a JSON object.", "invalid_json")
    return header, binary


def _tensors(header: dict[str, Any], binary: bytes) -> dict[str, Tensor]:
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("'inputs' must be a non-empty list of tensors.", "missing_inputs")
    tensors: dict[str, Tensor] = {}
    offset = 0
    for index, raw in enumerate(inputs):
        if not isinstance(raw, dict):
            raise _bad(f"inputs[{index}] must be an object.")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _bad(f"inputs[{index}] needs a 'name'.")
        where = f"input {name!r}"
        if name in tensors:
            raise _bad(f"{where} is given twice.")
        datatype = raw.get("datatype")
        if not isinstance(datatype, str):
            raise _bad(f"{where} needs a 'datatype'.", "invalid_datatype")
        shape = raw.get("shape")
        if (
            not isinstance(shape, list)
            or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise _bad(f"{where}: 'shape' must be a list of sizes, batch first.", "invalid_shape")
        parameters = raw.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _bad(f"{where}: 'parameters' must be an object.")
        size = parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise _bad(f"{where}: binary_data_size must be a whole number of bytes.")
            if offset + size > len(binary):
                raise _bad(
                    f"{where}: binary_data_size says {size} bytes, but the body holds only "
                    f"{len(binary) - offset} more."
                )
            values = _from_binary(binary[offset : offset + size], datatype, shape, where)
            offset += size
        elif "data" in raw:
            values = _from_json(raw["data"], datatype, shape, where)
        else:
            raise _bad(f"{where} needs 'data', or binary_data_size in its parameters.")
        tensors[name] = Tensor(name, datatype, tuple(shape), values)
    if offset != len(binary):
        raise _bad(
            f"The body holds {len(binary) - offset} bytes that no input's binary_data_size "
            "accounts for."
        )
    return tensors


def _from_json(data: Any, datatype: str, shape: list[int], where: str) -> Any:
    count = math.prod(shape)
    if not isinstance(data, list):
        raise _bad(f"{where}: 'data' must be a list.", "invalid_data")
    if datatype == "BYTES":
        flat = _flatten(data)
        if not all(isinstance(item, str) for item in flat):
            raise _bad(f"{where}: BYTES data must be strings.", "invalid_data")
        return _sized(flat, count, where)
    if datatype in NUMBER_TYPES:
        try:
            with np.errstate(over="ignore"):  # 1e300 as FP32 is inf, refused below
                array = np.asarray(data, dtype=np.float32 if datatype == "FP32" else np.float64)
        except (TypeError, ValueError, OverflowError):
            raise _bad(
                f"{where}: {datatype} data must be numbers, as a flat list or nested as its shape.",
                "invalid_data",
            ) from None
        return _shaped(array.reshape(-1), shape, where)
    return _unsupported(datatype, where)


def _from_binary(segment: bytes, datatype: str, shape: list[int], where: str) -> Any:
    count = math.prod(shape)
    if datatype == "BYTES":
        items: list[bytes] = []
        position = 0
        while position < len(segment):
            if position + 4 > len(segment):
                raise _bad(f"{where}: the BYTES data is cut short.", "invalid_data")
            (length,) = struct.unpack_from("<I", segment, position)
            position += 4
            if position + length > len(segment):
                raise _bad(f"{where}: the BYTES data is cut short.", "invalid_data")
            items.append(segment[position : position + length])
            position += length
        return _sized(items, count, where)
    if datatype in NUMBER_TYPES:
        dtype = np.dtype(NUMBER_TYPES[datatype])
        if len(segment) != count * dtype.itemsize:
            raise _bad(
                f"{where}: {count} {datatype} values take {count * dtype.itemsize} bytes, "
                f"binary_data_size gives {len(segment)}.",
                "invalid_data",
            )
        return _shaped(np.frombuffer(segment, dtype), shape, where)
    return _unsupported(datatype, where)


def _unsupported(datatype: str, where: str) -> NoReturn:
    raise _bad(
        f"{where}: datatype {datatype!r} is not taken here: BYTES (pictures, categories) or "
        "FP32 (tensors, numbers), as GET /v2/models/<name> says.",
        "invalid_datatype",
    )


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _sized(items: list[Any], count: int, where: str) -> list[Any]:
    if len(items) != count:
        raise _bad(f"{where}: the shape holds {count} elements, the data {len(items)}.")
    return items


def _shaped(array: np.ndarray, shape: list[int], where: str) -> np.ndarray:
    count = math.prod(shape)
    if array.size != count:
        raise _bad(f"{where}: the shape holds {count} elements, the data {array.size}.")
    if not np.isfinite(array).all():
        raise _bad(f"{where}: the data holds NaN or infinite values.", "invalid_data")
    return array.reshape(shape)


def _requested_outputs(header: dict[str, Any]) -> list[RequestedOutput]:
    parameters = header.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad("'parameters' must be an object.")
    default_binary = parameters.get("binary_data_output", False)
    if not isinstance(default_binary, bool):
        raise _bad("binary_data_output must be true or false.")
    outputs = header.get("outputs")
    if outputs is None or outputs == []:
        return [RequestedOutput(OUTPUT, default_binary, 0)]
    if not isinstance(outputs, list):
        raise _bad("'outputs' must be a list of the outputs wanted.")
    requested: list[RequestedOutput] = []
    for index, raw in enumerate(outputs):
        name = raw.get("name") if isinstance(raw, dict) else None
        if name != OUTPUT:
            raise _bad(
                f"outputs[{index}]: unknown output {name!r}; the only output is {OUTPUT!r}.",
                "unknown_output",
            )
        if any(r.name == name for r in requested):
            raise _bad(f"Output {name!r} is asked for twice.", "unknown_output")
        options = raw.get("parameters") or {}
        if not isinstance(options, dict):
            raise _bad(f"output {name!r}: 'parameters' must be an object.")
        binary = options.get("binary_data", default_binary)
        if not isinstance(binary, bool):
            raise _bad(f"output {name!r}: binary_data must be true or false.")
        classes = options.get("classification", 0)
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 0:
            raise _bad(
                f"output {name!r}: classification must be the number of classes wanted.",
                "invalid_classification",
            )
        requested.append(RequestedOutput(name, binary, classes))
    return requested


def _predict_pictures(model: Model, tensors: dict[str, Tensor]) -> list[PredictionResult]:
    unknown = [name for name in tensors if name not in {IMAGE_INPUT, TENSOR_INPUT}]
    if unknown:
        raise _bad(
            f"{model.name} has no input {unknown[0]!r}: send {IMAGE_INPUT!r} (BYTES, encoded "
            f"pictures) or {TENSOR_INPUT!r} (FP32, prepared inputs).",
            "unknown_input",
        )
    if len(tensors) != 1:
        raise _bad(f"Send {IMAGE_INPUT!r} or {TENSOR_INPUT!r}, not both.", "unknown_input")
    if IMAGE_INPUT in tensors:
        return _predict_encoded(model, tensors[IMAGE_INPUT])
    return _predict_prepared(model, tensors[TENSOR_INPUT])


def _check_batch(tensor: Tensor) -> int:
    if not 1 <= tensor.batch <= MAX_BATCH:
        raise _bad(
            f"input {tensor.name!r}: a batch takes 1 to {MAX_BATCH} items, not {tensor.batch}.",
            "invalid_shape",
        )
    return tensor.batch


def _predict_encoded(model: Model, tensor: Tensor) -> list[PredictionResult]:
    where = f"input {IMAGE_INPUT!r}"
    if tensor.datatype != "BYTES":
        raise _bad(
            f"{where} is BYTES (encoded pictures), not {tensor.datatype}.", "invalid_datatype"
        )
    if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
        raise _bad(f"{where} has shape [N]: one picture per item.", "invalid_shape")
    count = _check_batch(tensor)
    rt = runtime()
    pixel_budget = rt.limits.max_pixels * MAX_BATCH_PIXELS_FACTOR
    started = time.perf_counter()
    datas, images, samples = [], [], []
    with counting_failures(model):
        for index, item in enumerate(tensor.values):
            try:
                data = bytes_from_data_uri(item) if isinstance(item, str) else item
                image = model.decode(data, rt.limits)
                pixel_budget -= image.width * image.height
                if pixel_budget < 0:
                    raise _bad(
                        "The pictures of this request hold too many pixels in all: send fewer "
                        "per request.",
                        "too_large",
                        413,
                    )
                samples.append(model.prepare(image))
            except InputError as exc:
                raise _item_error(exc, where, index, count) from None
            datas.append(data)
            images.append(image)
        probabilities = model.predict(np.stack(samples))
    top_k, owner = DEFAULT_TOP_K[model.input_kind], visitor_owner()
    return [
        _finish(model, started, scores, sample, top_k, rt.recorder, data, image, owner)
        for data, image, sample, scores in zip(datas, images, samples, probabilities, strict=True)
    ]


def _item_error(exc: InputError, where: str, index: int, count: int) -> InputError:
    detail = exc.detail if count == 1 else f"{where}, item {index}: {exc.detail}"
    return InputError(exc.code, detail, exc.status)


def _predict_prepared(model: Model, tensor: Tensor) -> list[PredictionResult]:
    where = f"input {TENSOR_INPUT!r}"
    if tensor.datatype != "FP32":
        raise _bad(f"{where} is FP32 (prepared inputs), not {tensor.datatype}.", "invalid_datatype")
    expected = input_shape(model)
    if tensor.shape[1:] != expected:
        raise _bad(
            f"{where} has shape {[-1, *expected]} for {model.name}, not {list(tensor.shape)}.",
            "invalid_shape",
        )
    _check_batch(tensor)
    rt = runtime()
    started = time.perf_counter()
    batch = np.ascontiguousarray(tensor.values, dtype=np.float32)
    with counting_failures(model):
        probabilities = model.predict(batch)
        if not np.isfinite(probabilities).all():  # values far out of the model's range
            raise _bad(
                f"{where}: {model.name} gives no usable answer for these values: send inputs "
                "prepared as the model expects them.",
                "unusable_inputs",
                422,
            )
    top_k, owner = DEFAULT_TOP_K[model.input_kind], visitor_owner()
    results = []
    for sample, scores in zip(batch, probabilities, strict=True):
        note = json.dumps({"v2": TENSOR_INPUT, "datatype": "FP32", "shape": list(sample.shape)})
        image = picture_of(model, sample)
        results.append(
            _finish(model, started, scores, sample, top_k, rt.recorder, note.encode(), image, owner)
        )
    return results


def picture_of(model: Model, sample: np.ndarray) -> Image.Image | None:
    """The picture a prepared input shows (for the history), or None if it cannot be told."""
    try:
        with np.errstate(all="ignore"):  # out-of-range values are clipped, no warnings
            return _picture_of(model, sample)
    except Exception:  # the history's picture is a bonus: the prediction stands without it
        log.exception("no picture for a prepared input of %s", model.name)
        return None


def _picture_of(model: Model, sample: np.ndarray) -> Image.Image | None:
    """A sketch model's own preview; for a photo, ``normalise`` undone."""
    preview = model.preview(sample)
    if preview is not None:
        return Image.fromarray(preview, "L")
    settings = model.info.settings
    if settings is None or model.input_kind != "photo":
        return None
    preprocess = settings.preprocess
    values = sample if preprocess.layout == "NHWC" else sample.transpose(1, 2, 0)
    # normalise's inverse: pixel = (value * std + mean) * scale
    std = np.asarray(preprocess.std, np.float32)
    mean = np.asarray(preprocess.mean, np.float32)
    pixels = (values * std + mean) * np.float32(preprocess.scale)
    pixels = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
    if preprocess.channels == "L":
        return Image.fromarray(np.ascontiguousarray(pixels[:, :, 0]), "L")
    if preprocess.channels == "BGR":
        pixels = pixels[:, :, ::-1]
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


def _predict_table(model: Model, tensors: dict[str, Tensor]) -> list[PredictionResult]:
    features = {feature.name: feature for feature in model.features}
    for name in tensors:
        if name not in features:
            raise _bad(
                f"{model.name} has no input {name!r}; its inputs are its features: "
                f"{', '.join(features)}.",
                "unknown_input",
            )
    missing = [name for name in features if name not in tensors]
    if missing:
        raise _bad(f"input {missing[0]!r} is missing: send one input per feature.", "missing_input")
    counts = set()
    for tensor in tensors.values():
        shape = tensor.shape
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise _bad(f"input {tensor.name!r} has shape [N]: one value per row.", "invalid_shape")
        counts.add(_check_batch(tensor))
    if len(counts) != 1:
        raise _bad("Every input must have as many rows as the others.", "invalid_shape")
    rows: list[dict[str, Any]] = [{} for _ in range(counts.pop())]
    for name, tensor in tensors.items():
        if features[name].type == "number":
            if tensor.datatype not in NUMBER_TYPES:
                raise _bad(f"input {name!r} is FP32, not {tensor.datatype}.", "invalid_datatype")
            # str() of a float32 is its shortest form: 5.1 stays 5.1, not 5.0999999.
            values = [float(str(v)) for v in tensor.values.reshape(-1)]
        else:
            if tensor.datatype != "BYTES":
                raise _bad(f"input {name!r} is BYTES, not {tensor.datatype}.", "invalid_datatype")
            values = [_text(v, name) for v in tensor.values]
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    top_k = DEFAULT_TOP_K["tabular"]
    return predict_rows(
        model, rows, top_k=top_k, recorder=runtime().recorder, owner=visitor_owner()
    )


def _text(value: str | bytes, name: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(f"input {name!r}: a category is UTF-8 text.", "invalid_data") from None


def _answer(
    model: Model,
    request_id: str | None,
    results: list[PredictionResult],
    outputs: list[RequestedOutput],
) -> Response:
    probabilities = np.stack([result.probabilities for result in results]).astype(np.float32)
    count, width = probabilities.shape
    described: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for output in outputs:
        entry: dict[str, Any] = {"name": output.name}
        if output.classes:
            k = min(output.classes, width)
            order = np.argsort(probabilities, axis=1)[:, ::-1][:, :k]
            texts = [
                f"{row[i]:f}:{i}:{model.labels[i]}"
                for row, best in zip(probabilities, order, strict=True)
                for i in best
            ]
            entry |= {"datatype": "BYTES", "shape": [count, k]}
            if output.binary:
                encoded = [text.encode() for text in texts]
                blob = b"".join(struct.pack("<I", len(e)) + e for e in encoded)
            else:
                entry["data"] = texts
        else:
            entry |= {"datatype": "FP32", "shape": [count, width]}
            if output.binary:
                blob = probabilities.astype("<f4").tobytes()
            else:
                entry["data"] = probabilities.reshape(-1).tolist()
        if output.binary:
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        described.append(entry)
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request_id is not None:
        body["id"] = request_id
    body["parameters"] = {"prediction_ids": ",".join(result.id for result in results)}
    body["outputs"] = described
    head = json.dumps(body, separators=(",", ":")).encode()
    if not blobs:
        return Response(head, mimetype=JSON_TYPE)
    response = Response(head + b"".join(blobs), mimetype=BINARY_TYPE)
    response.headers[HEADER_LENGTH] = str(len(head))
    return response


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), mimetype=JSON_TYPE)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def no_such_route(rest: str):
    """Anything else under /v2: the protocol's error, not a page (405 for a wrong method)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST"):
        if method == request.method:
            continue
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            response = _error(
                f"{request.path} takes {method}, not {request.method}.",
                405,
                "method_not_allowed",
            )
            response.headers["Allow"] = method
            return response
    raise _bad(f"There is no V2 route at {request.path}.", "not_found", 404)
