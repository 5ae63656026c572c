"""Every error becomes a clear 4xx: JSON ``{"error", "detail"}`` under /api, a page elsewhere.

A 500 is a bug; it is logged with its stack trace and answered without one.
"""

from __future__ import annotations

import io
import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy import exc as sa
from werkzeug.exceptions import BadRequest, HTTPException

from modelport.inputs import InputError
from modelport.models import UnknownModel

log = logging.getLogger(__name__)

# The database cannot be reached or is overloaded: the request may work later (503).
DATABASE_DOWN = (sa.OperationalError, sa.InterfaceError)

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
    503: "The service cannot answer this just now. Please try again in a minute.",
}
DATABASE_DETAIL = "The database cannot be reached just now. Please try again in a minute."


MACHINE_PATHS = {"/healthz", "/readyz", "/metrics"}


def wants_json() -> bool:
    """API and probe callers are programs; a browser asking for a page gets a page."""
    if request.path.startswith(("/api/", "/v2")) or request.path in MACHINE_PATHS:
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

    @app.errorhandler(sa.DBAPIError)
    def on_database_error(exc: sa.DBAPIError):
        if isinstance(exc, DATABASE_DOWN) or exc.connection_invalidated:
            log.error("database unavailable on %s %s: %s", request.method, request.path, exc)
            return error_response("unavailable", DATABASE_DETAIL, 503)
        if isinstance(exc, sa.DataError):  # a value the database refuses: the caller's
            log.warning("database refused a value on %s %s: %s", request.method, request.path, exc)
            return error_response("invalid_value", "A value in the request is not usable.", 400)
        return on_bug(exc)

    @app.errorhandler(sa.TimeoutError)
    def on_database_busy(exc: sa.TimeoutError):  # every pooled connection in use
        log.error("database busy on %s %s: %s", request.method, request.path, exc)
        return error_response("unavailable", DATABASE_DETAIL, 503)

    @app.errorhandler(Exception)
    def on_bug(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal_error", FRIENDLY[500], 500)

    app.wsgi_app = ReadableBody(app.wsgi_app)


class ReadableBody:
    """WSGI middleware: a request body that cannot be read (a malformed chunk, a client gone
    mid-body) is the client's 400, whichever server read it. Werkzeug's development server
    raises ``OSError`` there and gunicorn's own workers a parse error, both 500s otherwise.
    A body already read whole (``io.BytesIO``, as ``modelport serve`` hands it) is left as is.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None and not isinstance(stream, io.BytesIO):
            environ["wsgi.input"] = _GuardedStream(stream)
        return self.wsgi_app(environ, start_response)


class _GuardedStream:
    def __init__(self, stream) -> None:
        self._stream = stream

    def _guard(self, name: str, *args):
        try:
            return getattr(self._stream, name)(*args)
        except HTTPException:
            raise
        except Exception as exc:  # OSError, gunicorn's ParseException, ...
            log.warning("request body unreadable: %s: %s", type(exc).__name__, exc)
            raise BadRequest("The request body could not be read: it is malformed.") from None

    def read(self, *args):
        return self._guard("read", *args)

    def readinto(self, buffer):  # what werkzeug's LimitedStream reads with
        if hasattr(self._stream, "readinto"):
            return self._guard("readinto", buffer)
        data = self._guard("read", len(buffer))  # gunicorn's own Body has only read
        buffer[: len(data)] = data
        return len(data)

    def readline(self, *args):
        return self._guard("readline", *args)

    def readlines(self, *args):
        return self._guard("readlines", *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
