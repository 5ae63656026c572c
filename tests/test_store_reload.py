"""A model added to or removed from the store of a running ``modelport serve`` is served
(or gone) a few seconds later, without a request failing meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import data_uri, drawn_one, start_server, stop_server

from modelport.models.store import BUNDLED

pytestmark = pytest.mark.slow

ADDED = "digits-copy"


def call(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def served_models(url: str) -> set[str]:
    status, body = call(url + "/api/v1/models")
    return {model["name"] for model in json.loads(body)["models"]} if status == 200 else set()


def add_folder(store: Path, name: str) -> None:
    """A model folder put in place the way ``modelport add`` does: built aside, renamed in."""
    staging = store / f".{name}-staging"
    staging.mkdir(parents=True)
    shutil.copy(BUNDLED / "digits" / "model.onnx", staging / "model.onnx")
    toml = (BUNDLED / "digits" / "modelport.toml").read_text()
    (staging / "modelport.toml").write_text(
        toml.replace("default = true", f'name = "{name}"\nversion = "2.0"')
    )
    os.rename(staging, store / name)


def remove_folder(store: Path, name: str) -> None:
    aside = store / f".{name}-removing"
    os.rename(store / name, aside)
    shutil.rmtree(aside)


class Traffic:
    """Digit predictions, one connection each, until stopped; every answer is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        body = {"image": data_uri(drawn_one()), "model": "digits"}
        deadline = time.monotonic() + 120  # bounded, whatever happens
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                status, _ = call(self.url + "/api/predict", body)
            except OSError as exc:
                status = type(exc).__name__
            self.statuses.append(status)


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_adding_and_removing_a_model_under_load_drops_no_request(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    server = start_server(
        tmp_path,
        store,
        ("digits", ADDED),
        # The traffic is one client asking as fast as it can, for longer than the default
        # limit (600 a minute) allows; limits are tested in test_rate_limits.py.
        extra_env={"MODELPORT_RATE_LIMIT_PREDICT": "off"},
        args=("--workers", "2", "--threads", "2"),
    )
    try:
        status, body = call(server.url + "/readyz")
        assert status == 503 and ADDED in json.loads(body)["models"]  # named, not there yet
        with Traffic(server.url) as traffic:
            time.sleep(0.5)
            add_folder(store, ADDED)
            assert wait_until(lambda: ADDED in served_models(server.url)), "never served"
            status, body = call(
                server.url + f"/api/v1/models/{ADDED}/predict", {"image": data_uri(drawn_one())}
            )
            assert status == 200 and json.loads(body)["version"] == "2.0"
            status, metrics = call(server.url + "/metrics")
            assert f'model="{ADDED}"' in metrics.decode()  # the added model is measured too
            assert wait_until(lambda: call(server.url + "/readyz")[0] == 200)
            remove_folder(store, ADDED)
            assert wait_until(lambda: ADDED not in served_models(server.url)), "still served"
            time.sleep(0.5)
        assert len(traffic.statuses) > 20
        failed = [status for status in traffic.statuses if status != 200]
        assert not failed, f"{len(failed)} of {len(traffic.statuses)} requests failed: {failed[:5]}"
    finally:
        stop_server(server)
