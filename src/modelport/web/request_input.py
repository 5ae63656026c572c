"""Getting the image bytes and options out of a request, whichever way the client sent them."""

from __future__ import annotations

from typing import Any

from flask import Request

from modelport.inputs import InputError
from modelport.inputs.decode import bytes_from_data_uri

MAX_TOP_K = 20


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is a 400 that says what was wrong."""
    if not request.get_data(cache=True):
        raise InputError("invalid_json", "The request body is empty: send JSON.", 400)
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise InputError("invalid_json", "The request body is not valid JSON.", 400)
    if not isinstance(body, dict):
        raise InputError("invalid_json", "The JSON body must be an object.", 400)
    return body


def image_from_json(body: dict[str, Any]) -> bytes:
    if "image" not in body or body["image"] is None:
        raise InputError(
            "missing_image", "The JSON body needs an 'image' field holding a data URI.", 400
        )
    return bytes_from_data_uri(body["image"])


def image_from_request(request: Request) -> tuple[bytes, dict[str, Any]]:
    """Image bytes and options from a JSON data URI, a multipart ``file`` or a raw body."""
    mimetype = request.mimetype or ""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        body = json_body(request)
        return image_from_json(body), body
    if mimetype == "multipart/form-data" or mimetype == "application/x-www-form-urlencoded":
        upload = request.files.get("file")
        if upload is None:
            raise InputError("missing_file", "The form needs a 'file' field with the image.", 400)
        return upload.read(), request.form.to_dict()
    data = request.get_data(cache=False)
    if not data:
        raise InputError(
            "missing_image",
            "Send the image as JSON {'image': data URI}, a multipart 'file', or raw bytes.",
            400,
        )
    return data, {}


def top_k_option(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        top_k = int(value)
    except (TypeError, ValueError):
        raise InputError("invalid_top_k", "top_k must be a whole number.", 400) from None
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError("invalid_top_k", f"top_k must be between 1 and {MAX_TOP_K}.", 400)
    return top_k
