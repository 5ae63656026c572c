"""Rate limits per client: ``@limited("predict")`` on a view counts its requests.

Limits come from ``MODELPORT_RATE_LIMIT_PREDICT`` (600/minute), ``..._FEEDBACK``
(30/minute) and ``..._LOGIN`` (10/minute); ``off`` turns one off. A client is its address
(an IPv6 client its /64, which one machine usually has whole); behind a reverse proxy set
``MODELPORT_TRUSTED_PROXIES`` so the address is the client's and not the proxy's.
Teachers and operators (signed in, or with a token) are not limited.

The counts are shared by every worker of the server (``store.ratelimit``): PostgreSQL's
``rate_limits`` table, or with SQLite a file of its own beside the database, about 0.1 ms
of CPU per counted request (benchmarks/rate_limits.py; on the main SQLite database through
SQLAlchemy it was 0.5 ms, waiting behind the recorder's writes). Flask-Limiter was the
first choice, but its storages are per process or a service to run (Redis, Memcached,
MongoDB); per-process counts with the limit divided by the workers would allow between
1/workers and all of the limit, depending on how a client's connections happen to be
spread. Over the limit: a 429 ``{"error": "too_many_requests"}`` (a page for a page) with
``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from ipaddress import IPv6Address, ip_address, ip_network
from pathlib import Path

from flask import Flask, after_this_request, current_app, g, request
from werkzeug.exceptions import TooManyRequests

from modelport.config import Settings, parse_rate_limit
from modelport.store import Store
from modelport.store.people import STAFF
from modelport.store.ratelimit import Counter, Verdict, counter_for
from modelport.web.errors import error_response

WHAT = {"predict": "predictions", "feedback": "answers", "login": "sign-in attempts"}
PERIOD_WORDS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}


class RateLimited(TooManyRequests):
    """An HTTP 429, so that a blueprint with error handlers of its own answers it as one."""

    def __init__(self, scope: str, verdict: Verdict, period: int) -> None:
        per = PERIOD_WORDS.get(period, f"{period} seconds")
        super().__init__(
            f"Too many {WHAT.get(scope, 'requests')}: at most {verdict.limit} {per} from one "
            f"client. Try again in {verdict.retry_after} s.",
            retry_after=verdict.retry_after,
        )
        self.scope, self.verdict, self.period = scope, verdict, period


@dataclass
class Limits:
    counter: Counter
    rules: dict[str, tuple[int, int] | None]


def init_app(app: Flask, settings: Settings, store: Store) -> None:
    app.extensions["modelport_limits"] = Limits(
        counter=counter_for(store, Path(app.instance_path)),
        rules={
            "predict": parse_rate_limit(settings.rate_limit_predict),
            "feedback": parse_rate_limit(settings.rate_limit_feedback),
            "login": parse_rate_limit(settings.rate_limit_login),
        },
    )

    @app.errorhandler(RateLimited)
    def on_rate_limited(exc: RateLimited):
        response = error_response("too_many_requests", exc.description, 429)
        response.headers["Retry-After"] = str(exc.verdict.retry_after)
        return response


def client_key() -> str:
    """The client's address; an IPv6 address's /64 network."""
    address = request.remote_addr or "unknown"
    try:
        ip = ip_address(address.split("%")[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is None:
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, IPv6Address) else str(ip)


def check(scope: str) -> None:
    """Count this request against ``scope``'s limit; RateLimited when over it."""
    limits: Limits | None = current_app.extensions.get("modelport_limits")
    rule = limits.rules.get(scope) if limits else None
    if rule is None:
        return
    caller = g.get("caller")
    if caller is not None and caller.role in STAFF:
        return
    count, period = rule
    verdict = limits.counter.hit(f"{scope}:{client_key()}", count, period)
    if not verdict.allowed:
        raise RateLimited(scope, verdict, period)

    @after_this_request
    def say_how_many_left(response):
        response.headers["RateLimit-Limit"] = str(count)
        response.headers["RateLimit-Remaining"] = str(verdict.remaining)
        response.headers["RateLimit-Reset"] = str(verdict.retry_after)
        return response


def limited(scope: str, methods: Iterable[str] | None = None) -> Callable:
    """Count the view's requests (of ``methods``, all when None) against ``scope``."""
    only = None if methods is None else set(methods)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def counted(*args, **kwargs):
            if only is None or request.method in only:
                check(scope)
            return view(*args, **kwargs)

        return counted

    return decorator
