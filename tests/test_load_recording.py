"""Under load: 8 clients x 1,000 predictions through gunicorn with 4 workers, every one stored.

Real HTTP on 127.0.0.1 to ``python -m gunicorn 'modelport.app:create_app()'``; then exactly
8,000 rows, no "database is locked", no error in the server's log. Once on SQLite (every
worker writes the same file) and once on PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import data_uri, drawn_one, free_port
from store_support import fresh_postgres_schema

from modelport.models import digits_knn
from modelport.models.store import ModelStore
from modelport.store import Store
from modelport.store.queries import count_predictions

CLIENTS = 8
PER_CLIENT = 1000
WORKERS = 4
TIME_LIMIT_S = 600

pytestmark = pytest.mark.slow


def start_gunicorn(instance: Path, model_store: Path, database_url: str) -> tuple:
    port = free_port()
    env = os.environ | {
        "MODELPORT_INSTANCE_PATH": str(instance),
        "MODELPORT_MODEL_STORE": str(model_store),
        "MODELPORT_MODELS": "digits-knn",
        "MODELPORT_DATABASE_URL": database_url,
        "MODELPORT_LOG_LEVEL": "WARNING",
        # 8 clients on one address, 8,000 predictions: far over the default per-client
        # limit, so one no client reaches here; the counting stays on the measured path.
        "MODELPORT_RATE_LIMIT_PREDICT": "1000000/minute",
    }
    log_path = instance / "gunicorn.log"
    log = open(log_path, "wb")  # noqa: SIM115 - open as long as the server runs
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "30",
            "modelport.app:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v1/models")
            if connection.getresponse().status == 200:
                return process, port, log_path
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()}")


def hammer(port: int) -> tuple[Counter, list[str], float]:
    body = json.dumps({"image": data_uri(drawn_one(size=(64, 64), width=5))})
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    statuses: Counter = Counter()
    ids: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT_S

    def client() -> None:
        mine, seen = Counter(), []
        for _ in range(PER_CLIENT):
            if time.monotonic() > deadline:
                mine["timed out"] += 1
                break
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request("POST", "/api/predict", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                mine[response.status] += 1
                if response.status == 200:
                    seen.append(json.loads(payload)["id"])
            except OSError as exc:
                mine[type(exc).__name__] += 1
            finally:
                connection.close()
        with lock:
            statuses.update(mine)
            ids.extend(seen)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, ids, time.perf_counter() - started


def wait_for_rows(store: Store, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        rows = count_predictions(store)
        if rows >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def run_load(tmp_path: Path, database_url: str) -> None:
    model_store = tmp_path / "models"
    digits_knn.train(ModelStore(model_store))  # once, not in four workers at once
    instance = tmp_path / "instance"
    instance.mkdir()
    process, port, log_path = start_gunicorn(instance, model_store, database_url)
    store = Store(database_url)
    try:
        statuses, ids, seconds = hammer(port)
        total = CLIENTS * PER_CLIENT
        rows = wait_for_rows(store, total)
        print(
            f"\n{store.backend}: {total} predictions in {seconds:.1f} s "
            f"({total / seconds:.0f}/s) through {WORKERS} gunicorn workers, {rows} rows"
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
    log = log_path.read_text()
    assert statuses == Counter({200: total}), statuses
    assert len(set(ids)) == total
    assert rows == total
    assert count_predictions(store) == total  # nothing more arrived at shutdown either
    assert "database is locked" not in log
    assert "not recorded" not in log and "Traceback" not in log, log[-3000:]
    store.dispose()


def test_eight_thousand_predictions_on_sqlite(tmp_path):
    run_load(tmp_path, f"sqlite:///{tmp_path / 'load.db'}")


@pytest.mark.postgres
def test_eight_thousand_predictions_on_postgres(tmp_path):
    for url in fresh_postgres_schema():
        run_load(tmp_path, url)
