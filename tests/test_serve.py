"""``modelport serve`` as a user starts it: sizing, metrics across workers, request logs,
and a worker that dies being replaced while the others keep answering."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest
from conftest import start_server, stop_server
from prometheus_client.parser import text_string_to_metric_families

from modelport.cli import serve
from modelport.config import Settings

THREADS = 2


def test_defaults_are_sized_from_the_cores_this_process_may_use():
    assert serve.default_workers() == len(os.sched_getaffinity(0))
    options = serve.gunicorn_options("127.0.0.1", 5000, workers=3, threads=4)
    assert options["workers"] == 3
    assert options["threads"] == 4
    assert options["worker_class"] == "modelport.web.server.Worker"
    assert options["worker_connections"] == serve.CONNECTIONS_PER_WORKER


def test_workers_and_threads_come_from_the_environment():
    settings = Settings.from_env({"MODELPORT_WORKERS": "3", "MODELPORT_THREADS": "8"})
    assert (settings.workers, settings.threads) == (3, 8)
    with pytest.raises(ValueError, match="MODELPORT_WORKERS"):
        Settings.from_env({"MODELPORT_WORKERS": "many"})


def get(url: str, headers: dict | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def workers_of(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def ready_pid(url: str) -> int | None:
    status, _, body = get(url + "/readyz")
    return json.loads(body)["pid"] if status == 200 else None


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_store):
    metrics_dir = tmp_path_factory.mktemp("metrics")
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    live = start_server(
        tmp_path_factory.mktemp("serve-instance"),
        model_store,
        ("digits-knn",),
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        args=("--workers", "2", "--threads", str(THREADS)),
    )
    wait_for(lambda: len(workers_of(live.process.pid)) == 2)
    live.metrics_dir = metrics_dir
    yield live
    stop_server(live)
    assert metrics_dir.exists()  # the operator's folder is theirs to keep


@pytest.mark.slow
def test_every_worker_is_ready_after_warming_up(server):
    pids = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        status, _, body = get(server.url + "/readyz")
        assert status == 200
        answer = json.loads(body)
        assert answer["models"] == {"digits-knn": "ready"}
        pids.add(answer["pid"])
    assert pids == workers_of(server.process.pid)


@pytest.mark.slow
def test_metrics_add_up_every_worker(server):
    assert not (server.metrics_dir / "counter_1.db").exists()  # the stale file went
    for _ in range(40):
        assert get(server.url + "/api/v1/models/digits-knn")[0] == 200

    def served() -> float:
        text = get(server.url + "/metrics")[2].decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "modelport_http_requests_total"
            and sample.labels["route"] == "/api/v1/models/<name>"
        )

    # Whichever worker answers the scrape, it reports all 40 requests.
    assert [served() for _ in range(6)] == [40.0] * 6


@pytest.mark.slow
def test_requests_are_logged_as_json_with_the_callers_id(server):
    status, headers, _ = get(server.url + "/healthz", {"X-Request-ID": "serve-test-7"})
    assert status == 200
    assert headers["X-Request-ID"] == "serve-test-7"

    def logged() -> list[dict]:
        lines = (server.instance_path / "server.log").read_text().splitlines()
        return [json.loads(line) for line in lines if '"serve-test-7"' in line]

    wait_for(lambda: logged(), timeout=10)
    (entry,) = logged()
    assert entry["route"] == "/healthz"
    assert entry["status"] == 200
    assert entry["pid"] in workers_of(server.process.pid)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_others_keep_serving(server):
    before = workers_of(server.process.pid)
    victim = min(before)
    outcomes: list[tuple[float, int]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status = get(server.url + "/api/v1/models")[0]
            except (OSError, http.client.HTTPException):  # cut off inside the killed worker
                status = 0
            outcomes.append((time.monotonic(), status))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    time.sleep(0.5)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(workers_of(server.process.pid) - before) == 1)
    time.sleep(1.0)
    stop.set()
    for thread in clients:
        thread.join(15)
    after = workers_of(server.process.pid)
    assert victim not in after and len(after) == 2
    failures = [t for t, status in outcomes if status != 200]
    # At most what was inside the killed worker at that moment (one per client).
    assert len(failures) <= 4
    assert sum(1 for t, status in outcomes if status == 200 and t > killed_at) > 10


@pytest.mark.slow
def test_a_burst_of_keep_alive_connections_is_shared_by_the_workers(server):
    # Both workers serving (a worker still loading its models takes no connection).
    wait_for(lambda: {ready_pid(server.url) for _ in range(8)} == workers_of(server.process.pid))
    host, port = server.url.removeprefix("http://").split(":")
    connections = [http.client.HTTPConnection(host, int(port), timeout=10) for _ in range(16)]
    for connection in connections:
        connection.connect()
    time.sleep(0.5)  # every connection accepted before any request is answered
    pids = []
    for connection in connections:
        connection.request("GET", "/readyz")
        pids.append(json.loads(connection.getresponse().read())["pid"])
        connection.close()
    # spread evenly over the 2 workers: 8 each, not 15 and 1
    assert sorted(pids.count(pid) for pid in set(pids)) == [8, 8]


def test_a_busy_port_is_said_plainly_with_how_to_pick_another():
    from click.testing import CliRunner

    from modelport.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.output
    assert f"--port {port + 1}" in result.output and f"make run PORT={port + 1}" in result.output
