"""What keeps the site safe to put on the internet: headers, CSRF tokens, cookies, no
cross-site writes.

- Every response (pages, API, static files, errors) carries a Content-Security-Policy that
  allows only this site's own scripts and styles (the templates have no inline script, event
  handler or ``style=`` attribute; pictures may be ``data:`` and ``blob:`` URIs, as the
  previews are), ``frame-ancestors 'none'`` (``MODELPORT_FRAME_ANCESTORS`` names the sites
  that may frame the pages), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  same-origin`` and ``X-Frame-Options`` for browsers that predate ``frame-ancestors``.
  A dozen lines of ``after_request`` rather than Flask-Talisman: that is unmaintained since
  2023 and would add a dependency for the same few constant headers.
- Forms (every ``POST`` outside ``/api/``) need the CSRF token their page carries
  (``{{ csrf_token() }}``), checked by Flask-WTF's ``CSRFProtect``; a post without it is a
  friendly 400 page. The JSON API takes no token: its JSON routes take only JSON (a content
  type another site's page cannot send without a CORS preflight, which this server never
  grants) and the predict routes only images, and any write a browser marks
  ``Sec-Fetch-Site: cross-site`` is refused (403) before it reaches a view.
- The session cookie (which holds the CSRF secret) is ``SameSite=Lax`` and ``HttpOnly``,
  and ``Secure`` with ``MODELPORT_SECURE_COOKIES=1`` (when served behind HTTPS).

The key that signs the cookie is ``MODELPORT_SECRET_KEY``, or else one made once and kept in
the instance folder (readable by its owner only), so that every worker signs alike.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from modelport.config import Settings
from modelport.inputs import InputError
from modelport.web.errors import error_response

API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
SECRET_FILE = "secret_key"
CSRF_DETAIL = (
    "This form did not come from a page of this site, or its page is too old: "
    "reload the page and send the form again."
)
# A CSP source expression: 'self', a scheme ("https:") or a host with an optional scheme,
# port and path; nothing that could end the directive (";", ",") or the header.
_SOURCE = re.compile(
    r"^(?:'self'"
    r"|[a-zA-Z][a-zA-Z0-9+.-]*:"  # a scheme
    r"|[a-zA-Z][a-zA-Z0-9+.-]*://[^\s;,']+"  # an origin, maybe with a path
    r"|[^\s;,':/]+(?::\d+|:\*)?(?:/[^\s;,']*)?)$"  # a host, maybe with a port and path
)

csrf = CSRFProtect()


def frame_ancestors(sources: tuple[str, ...]) -> str:
    """The ``frame-ancestors`` sources: ``'none'`` unless sites are named (then checked)."""
    named = [part for source in sources for part in source.split()]
    if not named or named == ["'none'"]:
        return "'none'"
    for source in named:
        if not _SOURCE.match(source):
            raise ValueError(
                f"MODELPORT_FRAME_ANCESTORS: {source!r} is not a CSP source "
                "(give origins such as https://intranet.example.com, or 'self')"
            )
    return " ".join(named)


def content_security_policy(ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


def security_headers(settings: Settings) -> dict[str, str]:
    ancestors = frame_ancestors(settings.frame_ancestors)
    headers = {
        "Content-Security-Policy": content_security_policy(ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"  # older browsers; a list of sites needs the CSP
    return headers


def secret_key(settings: Settings) -> str:
    """``MODELPORT_SECRET_KEY``, or the instance's own, made by whichever worker is first."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.instance_path) / SECRET_FILE
    for _ in range(40):
        try:
            return _read_secret(path)
        except FileNotFoundError:
            _make_secret(path)
        except ValueError:  # another worker is writing it this instant
            time.sleep(0.05)
    return _read_secret(path)  # still unusable: the error says which file


def _make_secret(path: Path) -> None:
    try:  # O_EXCL: exactly one worker makes it, readable by its owner only
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))


def _read_secret(path: Path) -> str:
    key = path.read_text("ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable secret key: delete it to make a new one")
    return key


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["modelport"].settings
    headers = security_headers(settings)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        # Forms are checked below, outside /api/ only; a token lives as long as the session
        # (a page left open for a day still posts), bound to it all the same.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)

    @app.before_request
    def refuse_cross_site_writes() -> None:
        if request.method in SAFE_METHODS:
            return
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise InputError(
                "cross_site", "Another site's page cannot send this request here.", 403
            )
        if request.path.startswith(API_PREFIX) or not app.config.get("WTF_CSRF_ENABLED", True):
            return
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit is not None and (request.content_length or 0) > limit:
            return  # refused as too large by the view itself, before it does anything
        csrf.protect(apply_exemptions=True)

    @app.errorhandler(CSRFError)
    def on_csrf_error(_exc: CSRFError):
        return error_response("csrf_failed", CSRF_DETAIL, 400)

    by_name = [(name.lower(), name, value) for name, value in headers.items()]

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # One pass over the response's headers, not one lookup per header (setdefault).
        present = {name.lower() for name, _ in response.headers.items()}
        response.headers.extend(
            [(name, value) for lower, name, value in by_name if lower not in present]
        )
        return response
