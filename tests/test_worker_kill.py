"""A worker killed with SIGKILL under load loses at most what it acknowledged in its last
moments: the requests in its threads and the recorder's last batch (SIGTERM, which loses
nothing, is tests/test_recorder_durability.py's).

A live ``modelport serve`` with 2 workers on SQLite, 4 clients posting drawings; one worker
is killed mid-way, the master replaces it, the load goes on, the server stops gracefully.
Each answer is attributed to its worker: the response's ``X-Request-ID`` (made by the
worker) is in the worker's JSON request log line, with its pid.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import start_server, stop_server
from test_recorder_durability import Load, stored_ids, wait_until
from test_serve import ready_pid, wait_for, workers_of

from modelport.store import Store

pytestmark = pytest.mark.slow

CLIENTS = 4
MAX_REQUESTS = 3000
KILL_AFTER_S = 3.0  # or after KILL_AFTER_REQUESTS, whichever comes first
KILL_AFTER_REQUESTS = 1000
AFTER_REPLACEMENT_S = 2.0
# The writer polls every 50 ms, a batch may be on its way to the database, and each request
# thread may hold a prediction not yet queued: all of it acknowledged well within this.
LAST_MOMENTS_S = 0.5


class AttributedLoad(Load):
    """``Load``, also keeping each acknowledged prediction's ``X-Request-ID``."""

    def __init__(self, url: str, clients: int, per_client: int) -> None:
        super().__init__(url, clients=clients, per_client=per_client)
        self.answered: list[tuple[float, str, str]] = []  # (when, prediction id, request id)

    def _acknowledge(self, when: float, prediction: str, response) -> None:
        super()._acknowledge(when, prediction, response)
        self.answered.append((when, prediction, response.headers["X-Request-ID"]))

    def snapshot(self) -> list[tuple[float, str, str]]:
        with self.lock:
            return list(self.answered)


def answering_pids(log: Path) -> dict[str, int]:
    """Request id -> the pid of the worker that answered it, from the JSON request log."""
    pids = {}
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "request_id" in entry and "pid" in entry:
            pids[entry["request_id"]] = entry["pid"]
    return pids


def test_a_worker_killed_under_load_loses_at_most_its_last_moments(tmp_path, model_store):
    instance = tmp_path / "instance"
    instance.mkdir()
    server = start_server(
        instance,
        model_store,
        ("digits-knn",),
        extra_env={"MODELPORT_RATE_LIMIT_PREDICT": "off"},
        args=("--workers", "2", "--threads", "4"),
    )
    master = server.process.pid
    log = instance / "server.log"
    try:
        wait_for(lambda: len(workers_of(master)) == 2)
        first = workers_of(master)
        # Both workers serving (a worker still loading its models takes no connection).
        wait_for(lambda: {ready_pid(server.url) for _ in range(8)} == first)
        with AttributedLoad(server.url, CLIENTS, MAX_REQUESTS // CLIENTS) as load:
            started = time.monotonic()
            assert wait_until(
                lambda: (
                    load.count() >= KILL_AFTER_REQUESTS
                    or (time.monotonic() - started >= KILL_AFTER_S and load.count() > 0)
                ),
                timeout=60,
            ), load.statuses
            # The worker that answered last, so surely one under load.
            _, _, latest = load.snapshot()[-1]
            victim = answering_pids(log)[latest]
            assert victim in first
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: len(workers_of(master) - first) == 1)
            time.sleep(AFTER_REPLACEMENT_S)
        after = workers_of(master)
        stop_server(server)  # graceful: the survivor and the replacement store everything
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    assert victim not in after and len(after) == 2

    store = Store(f"sqlite:///{instance / 'modelport.db'}")
    stored = stored_ids(store)
    store.dispose()
    pids = answering_pids(log)
    answered = load.snapshot()
    unattributed = [request for _, _, request in answered if request not in pids]
    assert not unattributed, f"{len(unattributed)} answers not in the request log"
    by_victim = {
        prediction: when for when, prediction, request in answered if pids[request] == victim
    }
    last_moments = {p for p, when in by_victim.items() if when >= killed_at - LAST_MOMENTS_S}
    acknowledged = {prediction for _, prediction, _ in answered}
    missing = acknowledged - stored
    served_after = sum(1 for when, _, _ in answered if when > killed_at)
    print(
        f"\nSIGKILL: {len(acknowledged)} acknowledged ({len(by_victim)} by the killed worker, "
        f"{served_after} after the kill), {dict(load.statuses)}"
        f"\nkilled worker: {len(last_moments)} acknowledged in its last {LAST_MOMENTS_S} s, "
        f"{len(missing)} never stored"
        + (
            f" (acknowledged {killed_at - min(by_victim.get(p, killed_at) for p in missing):.3f}"
            " s or less before the kill)"
            if missing
            else ""
        )
    )
    assert len(acknowledged) == len(answered)  # no id given twice
    assert last_moments, "the killed worker was not answering when it was killed"
    assert served_after > 0, "nothing was answered after the kill"
    assert missing <= by_victim.keys(), "a prediction of a worker that was not killed was lost"
    assert missing <= last_moments, "a prediction acknowledged long before the kill was lost"
    assert len(missing) <= len(last_moments)
