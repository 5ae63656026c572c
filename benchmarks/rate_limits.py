"""What counting requests for the rate limits costs, where the counts could be kept.

    .venv/bin/python benchmarks/rate_limits.py [--hits 3000] [--processes 1,4]
        [--requests 1000] [--serve] [--seconds 15]

1. The counter alone, in 1 and in several processes at once (workers contending for
   SQLite's write lock) while a writer inserts a batch every 50 ms as the recorder does:
   ``sqlite file`` (what serves SQLite: the sqlite3 module on a file of its own) against
   ``main db`` (the same upsert through SQLAlchemy on the main database).
2. In the request path: ``POST /api/predict`` (digits-knn) through the test client with
   the limit off, and on with either counter: CPU per request, and CPU of the counting.
3. With ``--serve``: the digits load benchmark (wrk, 16 connections, ``modelport serve``)
   with the limit off, then on at a limit no client reaches.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import text

from modelport.store import Store
from modelport.store.ratelimit import Counter, SqlCounter, SqliteCounter


def canvas_png() -> bytes:
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(70, 60), (210, 60), (120, 230)], fill=(0, 0, 0, 255), width=18)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def make_counter(kind: str, folder: Path) -> Counter:
    if kind == "sqlite file":
        return SqliteCounter(folder / "bench-ratelimits.db")
    return SqlCounter(Store(f"sqlite:///{folder / 'bench.db'}"))


def _hits(kind: str, folder: Path, count: int, results) -> None:
    counter = make_counter(kind, folder)
    counter.hit("warm-up", 10**9, 60)
    started_cpu = time.process_time()
    waits = []
    for i in range(count):
        started = time.perf_counter()
        counter.hit(f"predict:198.51.100.{i % 50}", 10**9, 60)
        waits.append(time.perf_counter() - started)
    results.put((waits, time.process_time() - started_cpu))


def _recorder(folder: Path, stop) -> None:
    store = Store(f"sqlite:///{folder / 'bench.db'}")
    rows = [{"body": b"x" * 2000} for _ in range(25)]
    while not stop.is_set():
        with store.writing() as session:
            session.execute(text("INSERT INTO bench_filler (body) VALUES (:body)"), rows)
        time.sleep(0.05)


def counter_alone(kind: str, folder: Path, processes: int, hits: int) -> str:
    context = multiprocessing.get_context("fork")
    results, stop = context.Queue(), context.Event()
    writer = context.Process(target=_recorder, args=(folder, stop))
    writer.start()
    workers = [
        context.Process(target=_hits, args=(kind, folder, hits, results)) for _ in range(processes)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    measured = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    stop.set()
    writer.join()
    waits = sorted(w for each, _ in measured for w in each)
    cpu = sum(seconds for _, seconds in measured)
    total = processes * hits
    return (
        f"{kind:<11} {processes} process(es) x {hits}: {total / wall:6.0f} hits/s, "
        f"CPU {cpu / total * 1e6:4.0f} us/hit, wait p50 {statistics.median(waits) * 1e3:.3f} ms,"
        f" p99 {waits[int(0.99 * len(waits))] * 1e3:.2f} ms, max {waits[-1] * 1e3:.1f} ms"
    )


def in_requests(folder: Path, requests: int) -> None:
    from modelport.app import create_app
    from modelport.config import Settings
    from modelport.store import ratelimit

    logging.getLogger("modelport.requests").disabled = True
    body = {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()}
    counting = [0.0, 0]
    plain_hit = ratelimit.Counter.hit

    def timed_hit(self, *args, **kwargs):
        started = time.thread_time()
        try:
            return plain_hit(self, *args, **kwargs)
        finally:
            counting[0] += time.thread_time() - started
            counting[1] += 1

    ratelimit.Counter.hit = timed_hit
    apps = {}
    for kind in ("off", "sqlite file", "main db"):
        limit = "off" if kind == "off" else "1000000000/minute"
        settings = Settings.from_env(
            {"MODELPORT_RATE_LIMIT_PREDICT": limit},
            instance_path=folder / kind.replace(" ", "-"),
            model_store=folder / "models",
            models=("digits-knn",),
        )
        app = apps[kind] = create_app(settings)
        if kind == "main db":
            app.extensions["modelport_limits"].counter = SqlCounter(
                app.extensions["modelport_store"]
            )
    for round_ in range(3):
        for kind, app in apps.items():
            client = app.test_client()
            client.post("/api/predict", json=body)
            counting[:] = [0.0, 0]
            started = time.thread_time()
            for _ in range(requests):
                assert client.post("/api/predict", json=body).status_code == 200
            per_request = (time.thread_time() - started) / requests * 1e3
            counted = counting[0] / counting[1] * 1e3 if counting[1] else 0.0
            print(
                f"round {round_ + 1}, limit {kind:<11}: {per_request:.3f} ms CPU per request "
                f"(request thread), of which counting {counted:.3f} ms",
                flush=True,
            )
    ratelimit.Counter.hit = plain_hit


def serve(seconds: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import serving

    body = b'{"image": "data:image/png;base64,' + base64.b64encode(canvas_png()) + b'"}'
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    for label, limit in [("off", "off"), ("on", "1000000000/minute")] * 2:
        server = serving.start("digits", store, [], env={"MODELPORT_RATE_LIMIT_PREDICT": limit})
        try:
            result, figures = serving.drive(
                server, server.url + "/api/predict", body, "application/json", 16, seconds
            )
            serving.report(
                f"digits, 16 connections, {seconds} s, rate limit {label}",
                {"requests/s": round(result.requests_per_s)} | figures,
            )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=3000)
    parser.add_argument("--processes", default="1,4")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--seconds", type=int, default=15)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="modelport-rl-"))
    store = Store(f"sqlite:///{folder / 'bench.db'}")
    store.upgrade()
    with store.writing() as session:
        session.execute(text("CREATE TABLE bench_filler (id INTEGER PRIMARY KEY, body BLOB)"))
    for processes in map(int, options.processes.split(",")):
        for kind in ("sqlite file", "main db"):
            print(counter_alone(kind, folder, processes, options.hits), flush=True)
    in_requests(folder, options.requests)
    if options.serve:
        serve(options.seconds)


if __name__ == "__main__":
    main()
