"""Every error becomes a clear 4xx: JSON ``{"error", "detail"}`` under /api, a page elsewhere.

A 500 is a bug; it is logged with its stack trace and answered without one.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from modelport.inputs import InputError
from modelport.models import UnknownModel

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
FRIENDLY = {
    404: "There is nothing at this address.",
    405: "This page does not take that kind of request.",
    413: "That file is too large.",
    500: "Something went wrong on our side. Please try again.",
}


MACHINE_PATHS = {"/healthz", "/readyz", "/metrics"}


def wants_json() -> bool:
    """API and probe callers are programs; a browser asking for a page gets a page."""
    if request.path.startswith("/api/") or request.path in MACHINE_PATHS:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(code: str, detail: str, status: int) -> Response:
    if wants_json():
        response = jsonify(error=code, detail=detail)
        response.status_code = status
        return response
    try:
        page = render_template("error.html", status=status, detail=detail)
    except Exception:  # the error page itself failed: say it plainly rather than fail again
        log.exception("error page failed to render")
        return Response(detail, status=status, mimetype="text/plain")
    return Response(page, status=status, mimetype="text/html")


def unknown_model_detail(exc: UnknownModel) -> str:
    known = ", ".join(exc.known) or "none"
    return f"There is no model named {exc.name!r}. Known models: {known}."


def init_app(app: Flask) -> None:
    @app.errorhandler(InputError)
    def on_input_error(exc: InputError):
        return error_response(exc.code, exc.detail, exc.status)

    @app.errorhandler(UnknownModel)
    def on_unknown_model(exc: UnknownModel):
        return error_response("unknown_model", unknown_model_detail(exc), 404)

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException):
        status = exc.code or 500
        detail = FRIENDLY.get(status) if not wants_json() else None
        if status == 413:
            limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            detail = f"The request is over the {limit} MB limit."
        return error_response(
            HTTP_CODES.get(status, "http_error"), detail or exc.description or exc.name, status
        )

    @app.errorhandler(Exception)
    def on_bug(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal_error", FRIENDLY[500], 500)
