"""Getting the image bytes and options out of a request, whichever way the client sent them."""

from __future__ import annotations

from typing import Any

from flask import Request

from modelport.inputs import InputError
from modelport.inputs.decode import bytes_from_data_uri

MAX_TOP_K = 20
MAX_JSON_DEPTH = 32  # far more than any body here needs; deeper is refused, not recursed
RAW_IMAGE_TYPES = {"application/octet-stream", ""}  # besides image/*; "" when none is sent


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is a 4xx that says what was wrong.

    Only a JSON content type is read as JSON: another site's page can send ``text/plain``
    or a form without asking this server first, but not ``application/json`` (415).
    """
    if not request.is_json:
        raise InputError(
            "unsupported_media_type",
            "Send JSON with the header Content-Type: application/json.",
            415,
        )
    if not request.get_data(cache=True):
        raise InputError("invalid_json", "The request body is empty: send JSON.", 400)
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
        too_deep = True
    else:
        too_deep = body is not None and nesting_depth(body) > MAX_JSON_DEPTH
    if too_deep:
        raise InputError(
            "invalid_json", f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.", 400
        )
    if body is None:
        raise InputError("invalid_json", "The request body is not valid JSON.", 400)
    if not isinstance(body, dict):
        raise InputError("invalid_json", "The JSON body must be an object.", 400)
    return body


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a plain value), without
    recursing, and stopping as soon as it is over ``MAX_JSON_DEPTH``."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    pending = [(value, 1)]
    while pending and deepest <= MAX_JSON_DEPTH:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def image_from_json(body: dict[str, Any]) -> bytes:
    if "image" not in body or body["image"] is None:
        raise InputError(
            "missing_image", "The JSON body needs an 'image' field holding a data URI.", 400
        )
    return bytes_from_data_uri(body["image"])


def image_from_request(request: Request) -> tuple[bytes, dict[str, Any]]:
    """Image bytes and options from a JSON data URI, a multipart ``file`` or a raw body."""
    mimetype = request.mimetype or ""
    if request.is_json:
        body = json_body(request)
        return image_from_json(body), body
    if mimetype == "multipart/form-data" or mimetype == "application/x-www-form-urlencoded":
        upload = request.files.get("file")
        if upload is None:
            raise InputError("missing_file", "The form needs a 'file' field with the image.", 400)
        return upload.read(), request.form.to_dict()
    if not (mimetype.startswith("image/") or mimetype in RAW_IMAGE_TYPES):
        raise InputError(
            "unsupported_format",
            f"A {mimetype} body is not an image: send the image's bytes with its own "
            "Content-Type (image/png, image/jpeg, ...), a multipart 'file', or JSON "
            "{'image': data URI}.",
            415,
        )
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
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        raise InputError("invalid_top_k", "top_k must be a whole number.", 400) from None
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError("invalid_top_k", f"top_k must be between 1 and {MAX_TOP_K}.", 400)
    return top_k
