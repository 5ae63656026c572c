"""Who is asking, and what they may do (Flask's tutorial shape).

A ``before_app_request`` hook resolves every request's caller into ``g.caller``:

- a program sends ``Authorization: Bearer <token>`` (``modelport tokens create``): a
  teacher or operator; a token that is unknown or revoked is a 401;
- a person signs in at ``/auth/login`` (``modelport users create``): the signed session
  cookie holds their id, for ``SIGN_IN_HOURS``;
- anyone else is a visitor, known by an anonymous id kept in the same signed cookie
  (given on their first page or prediction): their predictions are stored under it, so
  that they, and only they, see them.

Views state their need with ``@requires(role)``; which predictions a caller sees is
decided beside the data (``store.queries.visible_prediction``). ``/metrics`` answers
loopback, the networks in ``MODELPORT_METRICS_ALLOW`` and operators.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from ipaddress import ip_address, ip_network
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from modelport.config import Settings
from modelport.inputs import InputError
from modelport.store import Store
from modelport.store import people as pp
from modelport.store.people import OPERATOR, VISITOR, Caller
from modelport.web.errors import error_response, wants_json
from modelport.web.limits import limited
from modelport.web.security import secret_key

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

SIGN_IN_HOURS = 12
VISITOR_KEY, USER_KEY, SIGNED_IN_KEY = "visitor", "user_id", "signed_in_at"
ANONYMOUS = Caller()
# Requests that need no caller: files, probes.
NO_CALLER = {"static", "bootstrap.static", "health.healthz", "health.readyz"}


class NotAllowed(HTTPException):
    """401 (not signed in, or a bad token) or 403 (signed in, but not allowed). An HTTP
    error, so that a blueprint with error handlers of its own answers it as one too."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.error, self.detail = status, code, detail


def init_app(app: Flask, settings: Settings) -> None:
    # web.security made the key that signs the session cookie (SameSite=Lax, HttpOnly).
    # The cookie is not refreshed on every request: a visitor's id lasts 31 days from their
    # first visit, and predictions do not each pay for signing a cookie.
    if not app.secret_key:
        app.secret_key = secret_key(settings)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    if settings.trusted_proxies > 0:  # the client's address and scheme, as the proxies saw them
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.extensions["modelport_metrics_networks"] = tuple(
        ip_network(net, strict=False) for net in settings.metrics_allow
    )
    app.register_blueprint(bp)

    @app.errorhandler(NotAllowed)
    def on_not_allowed(exc: NotAllowed):
        if exc.code == 401 and not wants_json():
            return redirect(url_for("auth.login", next=local_path(request.full_path)))
        response = error_response(exc.error, exc.detail, exc.code)
        if exc.code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="modelport"'
        return response

    @app.context_processor
    def who_is_asking() -> dict[str, Any]:
        # Every page a visitor sees gives them their anonymous id (once), so that the
        # predictions their page then asks for, however many at once, are all theirs.
        caller = current_caller()
        if caller.role == VISITOR and caller.via != "token":
            visitor_owner()
        return {"account": current_caller()}  # not "caller": Jinja's macros have one


def _store() -> Store:
    return current_app.extensions["modelport_store"]


@bp.before_app_request
def resolve_caller() -> None:
    g.caller = ANONYMOUS if request.endpoint in NO_CALLER else _caller()


def _caller() -> Caller:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # other schemes (a proxy's Basic) are not ours
        row = pp.find_token(_store(), token.strip())
        if row is None:
            raise NotAllowed(401, "invalid_token", "This API token is unknown or was revoked.")
        return Caller(role=row.role, name=row.name, owner=f"token:{row.id}", via="token")
    user_id = session.get(USER_KEY)
    if user_id is not None:
        fresh = time.time() - session.get(SIGNED_IN_KEY, 0) < SIGN_IN_HOURS * 3600
        user = pp.get_user(_store(), user_id) if fresh else None
        if user is not None:
            return Caller(user.role, user.name, owner=f"user:{user.name}", via="session")
        session.pop(USER_KEY, None)  # gone, or signed in too long ago
        session.pop(SIGNED_IN_KEY, None)
    return Caller(owner=session.get(VISITOR_KEY))


def current_caller() -> Caller:
    return g.get("caller") or ANONYMOUS


def visitor_owner() -> str | None:
    """Whom a prediction made now belongs to: for a visitor without an id yet, a new
    anonymous id, kept in their session cookie."""
    caller = current_caller()
    if caller.owner is None and caller.role == VISITOR:
        # The session's id when there is one: a page refused before its caller was known
        # (a failed CSRF check) must not hand its visitor a new id and lose their history.
        if not session.get(VISITOR_KEY):
            session[VISITOR_KEY] = secrets.token_urlsafe(12)
            session.permanent = True
        g.caller = caller = replace(caller, owner=session[VISITOR_KEY])
    return caller.owner


def requires(role: str) -> Callable:
    """The view needs a caller of at least ``role`` (a visitor is sent to sign in)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
            caller = current_caller()
            if not caller.at_least(role):
                if caller.role == VISITOR:
                    raise NotAllowed(401, "sign_in_required", f"Sign in as {_a(role)} first.")
                raise NotAllowed(403, "forbidden", f"This needs {_a(role)}.")
            return view(*args, **kwargs)

        return checked

    return decorator


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (so ``next`` cannot send people away)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target.rstrip("?") or "/"


@bp.route("/auth/login", methods=["GET", "POST"])
@limited("login", methods=("POST",))
def login():
    target = local_path(request.values.get("next")) or url_for("pages.index")
    if request.method == "GET":
        return render_template("login.html", next=target, name="")
    name = request.form.get("name", "").strip()
    user = pp.authenticate(_store(), name, request.form.get("password", ""))
    if user is None:
        page = render_template(
            "login.html",
            next=target,
            name=name,
            error="That name and password do not match. Check both and try again.",
        )
        return page, 401
    visitor = session.get(VISITOR_KEY)
    session.clear()  # a new session for the person signed in
    if visitor:
        session[VISITOR_KEY] = visitor
    session[USER_KEY] = user.id
    session[SIGNED_IN_KEY] = int(time.time())
    session.permanent = True
    log.info("%s signed in as %s", user.name, user.role)
    return redirect(target)


@bp.post("/auth/logout")
def logout():
    session.pop(USER_KEY, None)
    session.pop(SIGNED_IN_KEY, None)
    return redirect(url_for("pages.index"))


@bp.get("/api/v1/me")
def me():
    """Who the server takes the caller for."""
    caller = current_caller()
    return jsonify(role=caller.role, name=caller.name, via=caller.via)


def metrics_access(view: Callable) -> Callable:
    """``/metrics``: loopback, the configured networks, or an operator."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not (_trusted_address(request.remote_addr) or current_caller().at_least(OPERATOR)):
            raise InputError(
                "forbidden",
                "Metrics are for this machine, the networks in MODELPORT_METRICS_ALLOW and "
                "operators (send an operator's API token).",
                403,
            )
        return view(*args, **kwargs)

    return checked


def _trusted_address(address: str | None) -> bool:
    try:
        ip = ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return True
    return any(ip in net for net in current_app.extensions.get("modelport_metrics_networks", ()))
