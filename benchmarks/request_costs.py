"""What each part of Modelport's request path costs on top of the bare digit path: the CPU of
one ``POST /api/predict`` (the canvas PNG as JSON) in the request thread, with the whole app,
with one part taken out at a time, and for the bare digit app (``hello_baseline.py --app
lean``'s), each called as ``modelport serve``'s workers call them (whole requests, no
network). Rounds alternate between the variants; each figure is the best round's.

    .venv/bin/python benchmarks/request_costs.py [--requests 1500] [--rounds 5]

The differences say where the served path's time goes besides the model; the HTTP front
(uvicorn's loop and the hand-off to a thread) is measured by ``fronts.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hello_baseline  # noqa: E402

PATH = "/api/predict"


def scope(body: bytes, cookie: bytes | None = None) -> dict:
    headers = [
        (b"host", b"127.0.0.1:5000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "http_version": "1.1",
        "server": ("127.0.0.1", 5000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "headers": headers,
    }


@contextmanager
def without_hook(hooks: dict, name: str):
    """The app with its request hook called ``name`` taken out for a while."""
    functions = hooks[None]
    hook = next(f for f in functions if f.__name__ == name)
    functions.remove(hook)
    try:
        yield
    finally:
        functions.append(hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    os.environ |= {
        "MODELPORT_INSTANCE_PATH": tempfile.mkdtemp(prefix="modelport-costs-"),
        "MODELPORT_MODEL_STORE": str(store),
        "MODELPORT_MODELS": "digits",
        "MODELPORT_RATE_LIMIT_PREDICT": "off",
    }
    from flask import Flask

    from modelport.app import create_app
    from modelport.service import NullRecorder
    from modelport.store.recorder import flush_all
    from modelport.web.observability import access_log
    from modelport.web.server import WholeRequests, _environ

    app = create_app()
    served = WholeRequests(app, 2, None)
    namespace: dict = {"__name__": "lean_app"}
    exec(hello_baseline.APPS["lean"], namespace)  # noqa: S102 - our own benchmark app
    bare = WholeRequests(namespace["app"], 2, None)
    assert isinstance(namespace["app"], Flask)

    body = hello_baseline.digit_body()
    plain = scope(body)
    _, headers, _, _ = served._call(_environ(plain, body, len(body)))
    cookie = next(v for k, v in headers if k == b"set-cookie").split(b";")[0]
    with_cookie = scope(body, cookie)
    runtime = app.extensions["modelport"]
    recorder = runtime.recorder

    def cpu_ms(app_: WholeRequests, request_scope: dict) -> float:
        started = time.thread_time()
        for _ in range(options.requests):
            status, _, _, _ = app_._call(_environ(request_scope, body, len(body)))
            assert status == 200
        spent = time.thread_time() - started
        flush_all(30)
        return spent * 1000 / options.requests

    def quiet_log() -> float:
        access_log.disabled = True
        try:
            return cpu_ms(served, plain)
        finally:
            access_log.disabled = False

    def unrecorded() -> float:
        runtime.recorder = NullRecorder()
        try:
            return cpu_ms(served, plain)
        finally:
            runtime.recorder = recorder

    def without(hooks: dict, name: str) -> Callable[[], float]:
        def run() -> float:
            with without_hook(hooks, name):
                return cpu_ms(served, plain)

        return run

    variants: dict[str, Callable[[], float]] = {
        "bare digit app": lambda: cpu_ms(bare, plain),
        "Modelport, a caller without a cookie (a new visitor id)": lambda: cpu_ms(served, plain),
        "  ... a caller with its visitor cookie": lambda: cpu_ms(served, with_cookie),
        "  ... without the JSON access log line": quiet_log,
        "  ... without metrics and the log line": without(
            app.after_request_funcs, "finish_request"
        ),
        "  ... without the security headers": without(
            app.after_request_funcs, "add_security_headers"
        ),
        "  ... without the cross-site check": without(
            app.before_request_funcs, "refuse_cross_site_writes"
        ),
        "  ... without recording": unrecorded,
    }
    for run in variants.values():  # warm every path once
        run()
    best = {name: float("inf") for name in variants}
    for _ in range(options.rounds):
        for name, run in variants.items():
            best[name] = min(best[name], run())
    full = best["Modelport, a caller without a cookie (a new visitor id)"]
    print(f"== request-thread CPU per digit request, best of {options.rounds} rounds")
    for name, figure in best.items():
        saving = "" if name.startswith(("bare", "Modelport")) else f"  (saves {full - figure:.3f})"
        print(f"  {name}: {figure:.3f} ms{saving}")
    print(f"  Modelport over the bare app: {full - best['bare digit app']:.3f} ms")


if __name__ == "__main__":
    main()
