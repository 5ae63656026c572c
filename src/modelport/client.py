"""A Python client for a Modelport server, on the standard library alone (``urllib``).

    from modelport import Client

    client = Client("http://127.0.0.1:5000")
    client.models()                                   # [ModelSummary(name="digits", ...)]
    result = client.predict("efficientnet-lite0", "cat.jpg", top_k=3)
    result.best.label, result.best.score, result.id   # "tabby", 0.61, "0190f3..."
    client.predict("iris", {"sepal length (cm)": 5.1, ...})
    client.feedback(result.id, "tiger cat")

A picture is a file path, the file's bytes, a Pillow image, or a numpy array of pixels
(``(H, W)`` or ``(H, W, C)`` uint8); it is sent as the image file itself, encoded to PNG
when it is not one yet. A table row is a mapping of feature to value. Every error the
server answers raises :class:`ModelportError` with its status, its ``error`` code and its
``detail``; a server that cannot be reached raises it with ``status`` None.

The client keeps the session cookie the server gives (like a browser), so the predictions
it made are its own to see and correct; ``token`` (``modelport tokens create``) is sent as
``Authorization: Bearer``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

DEFAULT_URL = "http://127.0.0.1:5000"
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}


class ModelportError(Exception):
    """What the server refused, and why: its HTTP status, ``error`` code and ``detail``.

    ``status`` is None when there was no answer at all (``error`` is then ``unreachable``
    or ``timeout``); ``retry_after`` is the seconds a 429 or 503 asks to wait, if it says.
    """

    def __init__(
        self, status: int | None, error: str, detail: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{error} ({status or 'no answer'}): {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass(frozen=True)
class PredictionResult:
    id: str
    model: str
    version: str
    predictions: list[Prediction]
    latency_ms: float

    @property
    def best(self) -> Prediction:
        return self.predictions[0]

    @property
    def label(self) -> str:
        return self.predictions[0].label


@dataclass(frozen=True)
class ModelSummary:
    name: str
    version: str
    input_kind: str  # "sketch", "photo" or "tabular"
    label_count: int
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    # A tabular model's columns: {"name", "type", and "choices" or "min"/"max"}.
    features: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FeedbackResult:
    id: str
    model: str
    predicted: str
    label: str
    is_correct: bool
    learned: bool


class Client:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float = 30.0,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) address such as {DEFAULT_URL}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "User-Agent": "modelport-client"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.headers.update(headers or {})
        self.cookies = CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def models(self) -> list[ModelSummary]:
        """Every model the server serves."""
        answer = self._request("GET", "/api/v1/models")
        return [
            ModelSummary(
                name=m["name"],
                version=str(m["version"]),
                input_kind=m["input_kind"],
                label_count=int(m["labels"]),
                description=m.get("description", ""),
                metrics=m.get("metrics") or {},
                features=m.get("features") or [],
            )
            for m in answer["models"]
        ]

    def labels(self, model: str) -> list[str]:
        """Every label ``model`` can answer, in the order of its outputs."""
        return list(self._request("GET", f"/api/v1/models/{_quote(model)}")["labels"])

    def predict(self, model: str, data: Any, top_k: int | None = None) -> PredictionResult:
        """``model``'s answer for a picture (path, bytes, Pillow image, numpy pixels) or,
        for a tabular model, a row (``{"feature": value}``); the ``top_k`` best labels
        (the server's default number when None)."""
        path = f"/api/v1/models/{_quote(model)}/predict"
        if top_k is not None:
            path += "?" + urllib.parse.urlencode({"top_k": top_k})
        if isinstance(data, Mapping):
            body = json.dumps({"inputs": dict(data)}).encode()
            answer = self._request("POST", path, body, "application/json")
        else:
            image, content_type = picture_bytes(data)
            answer = self._request("POST", path, image, content_type)
        return _result(answer)

    def feedback(self, prediction_id: str, label: str) -> FeedbackResult:
        """Tell the server the right label for a prediction it made."""
        path = f"/api/v1/predictions/{_quote(prediction_id)}/feedback"
        body = json.dumps({"label": label}).encode()
        answer = self._request("POST", path, body, "application/json")
        return FeedbackResult(
            id=answer["id"],
            model=answer["model"],
            predicted=answer["predicted"],
            label=answer["label"],
            is_correct=bool(answer["is_correct"]),
            learned=bool(answer.get("learned", False)),
        )

    def _request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> dict[str, Any]:
        headers = dict(self.headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, body, headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise _server_error(exc.code, exc.read(), exc.headers) from None
        except TimeoutError as exc:
            raise ModelportError(None, "timeout", f"{self.url} did not answer: {exc}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise ModelportError(None, "timeout", f"{self.url} did not answer") from None
            raise ModelportError(None, "unreachable", f"{self.url}: {reason}") from None
        except OSError as exc:  # the connection dropped mid-answer
            raise ModelportError(None, "unreachable", f"{self.url}: {exc}") from None
        try:
            answer = json.loads(payload)
        except ValueError:
            raise ModelportError(
                200, "invalid_answer", f"{method} {path} did not answer JSON: {payload[:200]!r}"
            ) from None
        if not isinstance(answer, dict):
            raise ModelportError(200, "invalid_answer", f"{method} {path} answered {answer!r}")
        return answer


def picture_bytes(data: Any) -> tuple[bytes, str]:
    """A picture as the bytes to send and their content type."""
    if isinstance(data, str | os.PathLike):
        with open(data, "rb") as file:
            raw = file.read()
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    elif _is_instance(data, "PIL.Image", "Image"):
        raw = _png(data)
    elif _is_instance(data, "numpy", "ndarray"):
        raw = _png(_pixels_as_image(data))
    elif hasattr(data, "read"):
        raw = data.read()
        if not isinstance(raw, bytes):
            raise TypeError("a file given as a picture must be opened in binary mode ('rb')")
    else:
        raise TypeError(
            f"cannot send a {type(data).__name__} as a picture: give a file path, bytes, a "
            "Pillow image or a numpy array of pixels (or a mapping of features for a table)"
        )
    return raw, _content_type(raw)


def _is_instance(value: Any, module: str, name: str) -> bool:
    """isinstance without importing ``module``: a value of it means it is loaded already."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name))


def _pixels_as_image(array: Any):
    import numpy as np
    from PIL import Image

    if array.dtype != np.uint8:
        raise ValueError(
            f"a numpy picture holds uint8 pixels (0 to 255), not {array.dtype}: "
            "convert it, e.g. (array * 255).clip(0, 255).astype('uint8')"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(array), "L")
    if array.ndim == 3 and array.shape[2] in (3, 4):
        mode = "RGB" if array.shape[2] == 3 else "RGBA"
        return Image.fromarray(np.ascontiguousarray(array), mode)
    raise ValueError(
        f"a numpy picture is (height, width) or (height, width, 1, 3 or 4 channels), "
        f"not {tuple(array.shape)}"
    )


def _png(image: Any) -> bytes:
    if image.mode not in {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}:
        image = image.convert("RGB")  # CMYK, YCbCr, HSV, floats: PNG cannot hold them
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _content_type(data: bytes) -> str:
    from modelport.inputs.decode import sniff_format

    return IMAGE_TYPES.get(sniff_format(data) or "", "application/octet-stream")


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _result(answer: dict[str, Any]) -> PredictionResult:
    return PredictionResult(
        id=answer["id"],
        model=answer["model"],
        version=str(answer["version"]),
        predictions=[Prediction(p["label"], float(p["score"])) for p in answer["predictions"]],
        latency_ms=float(answer["latency_ms"]),
    )


def _server_error(status: int, payload: bytes, headers: Any) -> ModelportError:
    retry_after = None
    if headers is not None and headers.get("Retry-After"):
        try:
            retry_after = float(headers["Retry-After"])
        except ValueError:
            retry_after = None
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        detail = answer.get("detail")
        return ModelportError(
            status, answer["error"], str(detail if detail is not None else ""), retry_after
        )
    text = payload.decode("utf-8", "replace").strip()
    return ModelportError(status, f"http_{status}", text[:300] or "no detail", retry_after)
