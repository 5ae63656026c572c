"""Digits through nginx: one replica against two, sharing PostgreSQL, on this machine; what
nginx costs per request; and how many predictions per second PostgreSQL stores with the
recorder's batching, which bounds how many replicas one database serves.

    .venv/bin/python benchmarks/fleet.py [--connections 16] [--seconds 20] [--rows 20000]

PostgreSQL comes from MODELPORT_TEST_POSTGRES_URL, or a throwaway one is started with
scripts/start-postgres.sh. Debian's nginx runs the shipped deploy/nginx/modelport.conf.
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "benchmarks"))
sys.path.insert(0, str(REPOSITORY / "tests"))
import serving  # noqa: E402
from load_digits import canvas_png  # noqa: E402
from nginx_front import start_nginx  # noqa: E402

from modelport.models.base import Prediction  # noqa: E402
from modelport.service import PredictionEvent, new_prediction_id  # noqa: E402
from modelport.store import SqlRecorder, Store  # noqa: E402

QUEUED_PER_WRITER = 4000  # under the recorder's queue limit (5,000)


def postgres() -> tuple[str, list[str]]:
    """A PostgreSQL URL, and the command that stops it if this benchmark started it."""
    url = os.environ.get("MODELPORT_TEST_POSTGRES_URL")
    if url:
        return url, []
    script = str(REPOSITORY / "scripts" / "start-postgres.sh")
    exports = subprocess.run([script], capture_output=True, text=True, check=True).stdout
    values = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines())
    return values["MODELPORT_TEST_POSTGRES_URL"], [
        script,
        "--stop",
        values["MODELPORT_TEST_POSTGRES_DIR"],
    ]


def fresh_schema(base: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with create_engine(base).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def nginx_cpu_seconds(process: subprocess.Popen) -> float:
    """nginx's master and its worker (whose parent it is)."""
    return serving.cpu_seconds([process.pid, *serving.children(process.pid)])


def through_nginx(
    replicas: list[serving.Server], body: bytes, connections: int, seconds: int
) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="modelport-nginx-"))
    listen = serving.free_port()
    ports = [int(server.url.rsplit(":", 1)[1]) for server in replicas]
    nginx = start_nginx(folder / "nginx", ports, listen)
    url = f"http://127.0.0.1:{listen}/api/predict"
    try:
        serving.wrk(url, body, "application/json", connections, 3)
        cpu_before = nginx_cpu_seconds(nginx)
        replicas_before = sum(server.cpu_seconds() for server in replicas)
        result = serving.wrk(url, body, "application/json", connections, seconds)
        requests = max(result.requests, 1)
        return {
            "requests/s": round(result.requests_per_s),
            "p50 ms": result.p50_ms,
            "p99 ms": result.p99_ms,
            "errors": result.errors,
            "nginx CPU ms per request": round(
                (nginx_cpu_seconds(nginx) - cpu_before) * 1000 / requests, 3
            ),
            "replicas' CPU ms per request": round(
                (sum(s.cpu_seconds() for s in replicas) - replicas_before) * 1000 / requests, 2
            ),
        }
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)


def direct(server: serving.Server, body: bytes, connections: int, seconds: int) -> dict:
    result, figures = serving.drive(
        server, server.url + "/api/predict", body, "application/json", connections, seconds
    )
    return {"requests/s": round(result.requests_per_s)} | {
        key: figures[key] for key in ("p50 ms", "p99 ms", "errors", "server CPU ms per request")
    }


def insert_rate(database_url: str, rows: int, writers: int) -> dict[str, object]:
    """Digit predictions (the canvas PNG, as the server hands it on) stored as fast as
    ``writers`` recorders (one per replica worker, each its own connection) batch them."""
    store = Store(database_url)
    store.upgrade()
    recorders = [SqlRecorder(store, max_backlog=rows + 1) for _ in range(writers)]
    drawing = canvas_png()
    image = Image.open(io.BytesIO(drawing))
    predictions = [Prediction(str(d), 0.1) for d in range(10)]
    events = [
        PredictionEvent(
            id=new_prediction_id(),
            created_at=datetime.now(UTC),
            model="digits",
            model_version="1.0",
            input_kind="sketch",
            input_bytes=drawing,
            image=image,
            predictions=predictions,
            latency_ms=1.0,
        )
        for _ in range(rows)
    ]
    started = time.perf_counter()
    for number, event in enumerate(events):
        recorder = recorders[number % writers]
        while recorder.backlog >= QUEUED_PER_WRITER:  # as fast as it writes, none dropped
            time.sleep(0.001)
        recorder.record(event)
    flushed = all(recorder.flush(600) for recorder in recorders)
    elapsed = time.perf_counter() - started
    store.dispose()
    return {
        "rows": rows,
        "writers": writers,
        "all stored": flushed,
        "seconds": round(elapsed, 2),
        "rows/s": round(rows / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20000)
    options = parser.parse_args()
    body = json.dumps(
        {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()}
    ).encode()
    base, stop_postgres = postgres()
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    env = {
        "MODELPORT_DATABASE_URL": fresh_schema(base),
        "MODELPORT_SECRET_KEY": "benchmark",
        "MODELPORT_TRUSTED_PROXIES": "1",
    }
    try:
        one = serving.start("digits", store, [], env)  # default workers: every core
        try:
            serving.report(
                "one replica, direct", direct(one, body, options.connections, options.seconds)
            )
            serving.report(
                "one replica, through nginx",
                through_nginx([one], body, options.connections, options.seconds),
            )
        finally:
            one.stop()
        halves = [serving.start("digits", store, ["--workers", "1"], env) for _ in range(2)]
        try:
            serving.report(
                "two replicas of one worker each, through nginx",
                through_nginx(halves, body, options.connections, options.seconds),
            )
        finally:
            for server in halves:
                server.stop()
        for writers in (1, 4):
            serving.report(
                f"PostgreSQL: predictions stored by {writers} recorder(s)",
                insert_rate(fresh_schema(base), options.rows, writers),
            )
    finally:
        if stop_postgres:
            subprocess.run(stop_postgres, check=False)


if __name__ == "__main__":
    main()
