# ruff: noqa: F811 - the fixtures imported from store_support are parameters here
"""No acknowledged prediction is lost while the database is away, read-only or gone.

Real databases throughout: an SQLite file made unwritable, deleted or replaced under a
recorder; a live ``modelport serve`` stopped (SIGTERM) under load while the database is
busy; and a throwaway PostgreSQL server of the test's own, stopped for 30 s under load.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import data_uri, drawn_one, make_app, start_server, stop_server
from sqlalchemy import select
from store_support import database_url, event, store  # noqa: F401 - fixtures

from modelport.store import SqlRecorder, Store
from modelport.store.queries import count_predictions
from modelport.store.tables import PredictionRow

REPO = Path(__file__).resolve().parents[1]
START_POSTGRES = REPO / "scripts" / "start-postgres.sh"
# No rate limit for the load below, where every client is 127.0.0.1.
LOAD_ENV = {"MODELPORT_LOG_LEVEL": "WARNING", "MODELPORT_RATE_LIMIT_PREDICT": "off"}


def stored_ids(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(PredictionRow.id)))


def sqlite_recorder(path: Path) -> tuple[Store, SqlRecorder]:
    """A migrated SQLite database at ``path`` and a recorder writing into it."""
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    return store, SqlRecorder(store)


def record_new(recorder: SqlRecorder, count: int) -> list:
    """``count`` new predictions handed to ``recorder``."""
    made = [event() for _ in range(count)]
    for item in made:
        recorder.record(item)
    return made


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


# -- SQLite: unwritable for a moment -------------------------------------------------------


@contextmanager
def unwritable(database: Path) -> Iterator[None]:
    """The database file and its WAL made unwritable for the block. chmod is enough for
    anyone but root; root writes a 0444 file all the same, so for root they are also made
    immutable (chattr +i), which root cannot write either."""
    files = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in files}
    immutable: list[Path] = []
    try:
        for path in files:
            path.chmod(0o444)
            if os.geteuid() == 0:
                if not shutil.which("chattr"):
                    pytest.fail("running as root: chattr is needed to make a file unwritable")
                subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
                immutable.append(path)
        yield
    finally:
        for path in immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True, capture_output=True)
        for path, mode in modes.items():
            path.chmod(mode)


def test_an_unwritable_database_holds_predictions_until_it_can_be_written(tmp_path):
    path = tmp_path / "store.db"
    store, recorder = sqlite_recorder(path)
    before = record_new(recorder, 20)
    assert recorder.flush(timeout=10)
    assert recorder.health().ok
    with unwritable(path):
        # A connection opened now is read-only, and stays so after: the pool starts over
        # here as it does in a new worker or after a dropped connection.
        store.dispose()
        during = record_new(recorder, 100)
        assert wait_until(lambda: not recorder.health().ok, timeout=10)
        assert not recorder.flush(timeout=1.0)  # held, not given up
        health = recorder.health()
        assert health.backlog == len(during)
        assert re.search("readonly|disk I/O", health.last_error), health.last_error
        assert "failing for" in health.describe()
        assert count_predictions(Store(f"sqlite:///{path}")) == len(before)
    assert recorder.flush(timeout=15), recorder.health()
    assert stored_ids(store) == {item.id for item in before + during}
    assert recorder.health().ok and recorder.health().backlog == 0
    assert recorder.stats.recorded == 120
    assert recorder.stats.failed == recorder.stats.dropped == 0
    assert recorder.stats.write_errors > 0
    store.dispose()


def test_a_recorder_with_nothing_to_write_still_notices_the_database_going_and_coming(
    tmp_path,
):
    path = tmp_path / "store.db"
    store, recorder = sqlite_recorder(path)
    assert recorder.health().ok
    with unwritable(path):
        store.dispose()
        assert wait_until(lambda: not recorder.health().ok, timeout=10)
        assert recorder.health().backlog == 0
    assert wait_until(lambda: recorder.health().ok, timeout=10)
    assert recorder.stats.recorded == 0 and count_predictions(store) == 0
    store.dispose()


def test_readyz_is_503_while_predictions_cannot_be_stored_and_200_once_they_can(
    tmp_path, model_store
):
    app = make_app(tmp_path / "instance", model_store, ("digits-knn",))
    client = app.test_client()
    store = app.extensions["modelport_store"]
    recorder = app.extensions["modelport"].recorder
    path = store.path
    body = {"image": data_uri(drawn_one())}
    headers = {"Accept": "application/json"}
    assert client.get("/readyz").status_code == 200
    acknowledged = []
    with unwritable(path):
        store.dispose()
        for _ in range(10):
            response = client.post("/api/predict", json=body, headers=headers)
            assert response.status_code == 200  # a prediction never waits for the store
            acknowledged.append(response.get_json()["id"])
        assert wait_until(lambda: client.get("/readyz").status_code == 503, timeout=10)
        answer = client.get("/readyz").get_json()
        assert answer["error"] == "not_ready"
        assert answer["recording"].startswith("failing for")
        assert "cannot be stored" in answer["detail"]
        assert answer["recording_backlog"] == 10
        assert set(answer["models"].values()) == {"ready"}  # the models are fine
        assert client.get("/healthz").status_code == 200  # alive: no restart needed
    assert recorder.flush(timeout=15)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["recording"] == "ok"
    assert set(acknowledged) <= stored_ids(store)
    assert client.get("/metrics").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "modelport_recording_backlog" in metrics
    assert "modelport_recording_write_errors_total" in metrics


# -- SQLite: the file deleted or replaced ---------------------------------------------------


def test_a_deleted_instance_folder_is_made_again_and_recorded_into(tmp_path):
    instance = tmp_path / "instance"
    path = instance / "data" / "modelport.db"
    store, recorder = sqlite_recorder(path)
    record_new(recorder, 20)
    assert recorder.flush(timeout=10)
    shutil.rmtree(instance)  # under open connections, which would write on into the void
    after = record_new(recorder, 30)
    assert recorder.flush(timeout=15), recorder.health()
    assert path.is_file()
    assert stored_ids(Store(f"sqlite:///{path}")) == {item.id for item in after}
    assert recorder.stats.recorded == 50 and recorder.health().ok
    store.dispose()


def test_writes_that_went_to_a_replaced_file_are_written_again_to_the_new_one(tmp_path):
    path = tmp_path / "modelport.db"
    store, recorder = sqlite_recorder(path)
    before = record_new(recorder, 20)
    assert recorder.flush(timeout=10)
    # A backup put in place of the database while the recorder's connections stay open
    # on the old file (which takes their writes without a word).
    backup = tmp_path / "backup.db"
    with sqlite3.connect(path) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    for leftover in (path, *path.parent.glob(path.name + "-*")):
        leftover.unlink()
    backup.rename(path)
    after = record_new(recorder, 30)
    assert recorder.flush(timeout=15), recorder.health()
    assert stored_ids(Store(f"sqlite:///{path}")) == {item.id for item in before + after}
    assert recorder.stats.recorded == 50
    store.dispose()


def test_a_row_the_database_refuses_is_given_up_alone(store):
    recorder = SqlRecorder(store)
    good = [event() for _ in range(10)]
    refused = event()
    refused.model = None  # NOT NULL: refused however often it is tried
    for item in [*good[:5], refused, *good[5:]]:
        recorder.record(item)
    assert recorder.flush(timeout=15)
    assert stored_ids(store) == {item.id for item in good}
    assert recorder.stats.recorded == 10 and recorder.stats.failed == 1
    assert recorder.health().ok  # the database itself is fine
    # Written again (an unknown outcome retried), a stored row is skipped, not refused.
    recorder.record(good[0])
    assert recorder.flush(timeout=15)
    assert recorder.stats.failed == 1 and count_predictions(store) == 10


# -- Bounds ---------------------------------------------------------------------------------


def test_past_its_bound_the_backlog_drops_and_counts_and_the_rest_is_written_later(tmp_path):
    # The database's folder is a file for now: nothing can be written.
    folder = tmp_path / "data"
    folder.write_text("not a folder")
    url = f"sqlite:///{folder / 'modelport.db'}"
    recorder = SqlRecorder(Store(url), max_backlog=10)
    events = [event() for _ in range(25)]
    for item in events:
        recorder.record(item)
    assert wait_until(lambda: not recorder.health().ok, timeout=10)
    assert recorder.backlog == 10
    assert recorder.stats.dropped == 15
    assert recorder.health().not_recorded == 15
    folder.unlink()
    folder.mkdir()
    Store(url).upgrade()
    assert recorder.flush(timeout=15), recorder.health()
    assert stored_ids(Store(url)) == {item.id for item in events[:10]}
    assert recorder.health().ok


def test_what_cannot_be_written_at_exit_is_logged_and_counted(tmp_path, caplog):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    recorder = SqlRecorder(Store(f"sqlite:///{blocker / 'modelport.db'}"))
    for _ in range(3):
        recorder.record(event())
    assert not recorder.flush(timeout=0.5)
    assert recorder.abandon("the process is leaving") == 3
    assert recorder.stats.dropped == 3
    assert "3 predictions not recorded" in caplog.text


# -- A live server ---------------------------------------------------------------------------


class Load:
    """Client threads posting drawings until told to stop (or ``per_client`` each)."""

    def __init__(self, url: str, clients: int = 4, per_client: int = 20_000) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.per_client = per_client
        self.body = json.dumps({"image": data_uri(drawn_one(size=(64, 64), width=5))})
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[float, str]] = []  # (when, id)
        self.statuses: Counter = Counter()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        connection = None
        for _ in range(self.per_client):
            if self.stop.is_set():
                break
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                connection.request("POST", "/api/predict", body=self.body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
                if status == 200:
                    with self.lock:
                        self._acknowledge(time.monotonic(), json.loads(payload)["id"], response)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.05)
            with self.lock:
                self.statuses[status] += 1
        if connection is not None:
            connection.close()

    def _acknowledge(self, when: float, prediction: str, response) -> None:
        """One prediction answered (called with the lock held)."""
        self.acknowledged.append((when, prediction))

    def ids(self) -> set[str]:
        with self.lock:
            return {prediction for _, prediction in self.acknowledged}

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


@contextmanager
def serving_under_load(
    instance: Path, model_store: Path, threads: int, env: dict[str, str] | None = None
) -> Iterator:
    """``modelport serve`` (2 workers) for the load tests; killed if the test left it up."""
    instance.mkdir()
    server = start_server(
        instance,
        model_store,
        ("digits-knn",),
        extra_env=LOAD_ENV | (env or {}),
        args=("--workers", "2", "--threads", str(threads)),
    )
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def all_stored_in(url: str, acknowledged: set[str]) -> bool:
    """Whether every acknowledged prediction reaches the database within a minute."""
    store = Store(url)
    try:
        return wait_until(lambda: acknowledged <= stored_ids(store), timeout=60, interval=1)
    finally:
        store.dispose()


def test_sigterm_under_load_while_the_database_is_busy_loses_nothing(tmp_path, model_store):
    instance = tmp_path / "instance"
    database = instance / "modelport.db"
    with serving_under_load(instance, model_store, threads=4) as server, Load(server.url) as load:
        assert wait_until(lambda: load.count() >= 200, timeout=60)
        # Someone holds the write lock: the workers' writes wait, predictions pile up.
        holder = sqlite3.connect(database, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(1.0)
        server.process.terminate()  # gunicorn's graceful stop, as an operator's SIGTERM
        time.sleep(2.0)
        holder.execute("ROLLBACK")  # the database is free again within the graceful time
        holder.close()
        stop_server(server)  # waits for the exit, checks it was clean
    store = Store(f"sqlite:///{database}")
    missing = load.ids() - stored_ids(store)
    log = (instance / "server.log").read_text(errors="replace")
    print(f"\nSIGTERM: {len(load.ids())} acknowledged, {len(missing)} missing, {load.statuses}")
    assert len(load.ids()) >= 200
    assert not missing, f"{len(missing)} acknowledged predictions not stored"
    assert "not recorded" not in log, log[-3000:]
    store.dispose()


# -- PostgreSQL stopped for 30 s under load -------------------------------------------------


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries; the test fails without them when PostgreSQL is
    required (``MODELPORT_REQUIRE_POSTGRES``, as in CI), else it is skipped."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)],
    )
    chosen = Path(os.environ["PGBIN"]) if os.environ.get("PGBIN") else (found or [None])[-1]
    if chosen is None or not (chosen / "pg_ctl").exists():
        message = "PostgreSQL's binaries are missing (apt-get install postgresql)"
        if os.environ.get("MODELPORT_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return chosen


class ThrowawayPostgres:
    """A PostgreSQL server of this test's own (``scripts/start-postgres.sh``), which the
    test may stop and start again."""

    def __init__(self, pgbin: Path) -> None:
        self.pgbin = pgbin
        env = os.environ | {"PGBIN": str(pgbin)}
        started = subprocess.run(
            [str(START_POSTGRES)], env=env, capture_output=True, text=True, timeout=120
        )
        if started.returncode != 0:
            pytest.fail(f"could not start PostgreSQL: {started.stderr}")
        exports = dict(re.findall(r"^export (\w+)=(.*)$", started.stdout, re.MULTILINE))
        self.url = exports["MODELPORT_TEST_POSTGRES_URL"]
        self.dir = Path(exports["MODELPORT_TEST_POSTGRES_DIR"])
        self.port = urlsplit(self.url).port

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.pgbin / "pg_ctl"), "-D", str(self.dir / "data"), *args]
        if os.geteuid() == 0:  # as the script does: PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
            "-c max_connections=200"
        )
        self._pg_ctl("-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def remove(self) -> None:
        env = os.environ | {"PGBIN": str(self.pgbin)}
        subprocess.run([str(START_POSTGRES), "--stop", str(self.dir)], env=env, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class ReadyzWatch:
    """Asks ``/readyz`` every 0.25 s, keeping (when, status, body)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.seen: list[tuple[float, int, dict]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                connection.request("GET", "/readyz")
                response = connection.getresponse()
                self.seen.append((time.monotonic(), response.status, json.loads(response.read())))
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                connection.close()

    def between(self, start: float, end: float) -> list[tuple[float, int, dict]]:
        return [seen for seen in list(self.seen) if start <= seen[0] <= end]


OUTAGE_S = 30


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(postgres_bin())
    try:
        yield server
    finally:
        server.remove()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_stopped_for_30_s_under_load_loses_no_acknowledged_prediction(
    tmp_path, model_store, postgres
):
    instance = tmp_path / "instance"
    database = {"MODELPORT_DATABASE_URL": postgres.url}
    with serving_under_load(instance, model_store, threads=4, env=database) as server:
        watch = ReadyzWatch(server.url)
        watch.thread.start()
        with Load(server.url) as load:
            assert wait_until(lambda: load.count() >= 300, timeout=60)
            stopped_at = time.monotonic()
            postgres.stop()
            time.sleep(OUTAGE_S)
            postgres.start()
            started_at = time.monotonic()
            time.sleep(3)  # load goes on while the backlog drains
        acknowledged = load.ids()
        during = [t for t, _ in load.acknowledged if stopped_at < t < started_at]
        assert all_stored_in(postgres.url, acknowledged)
        store = Store(postgres.url)
        try:
            missing = acknowledged - stored_ids(store)
            ready_after = wait_until(
                lambda: any(s == 200 for _, s, _ in watch.between(started_at, 1e12)), timeout=30
            )
        finally:
            store.dispose()
        watch.stop.set()
        watch.thread.join()
        # A worker that has no prediction to write finds out by its probe (every 2 s).
        outage = watch.between(stopped_at + 5, started_at)
        print(
            f"\nPostgreSQL stopped {OUTAGE_S} s: {len(acknowledged)} acknowledged "
            f"({len(during)} during the outage), {len(acknowledged) - len(missing)} stored, "
            f"{len(missing)} missing; clients saw {dict(load.statuses)}; /readyz during the "
            f"outage: {Counter(s for _, s, _ in outage)}"
        )
        assert len(during) >= 100, "hardly any prediction was answered during the outage"
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged not stored"
        assert outage and all(status == 503 for _, status, _ in outage)
        assert all(body["recording"].startswith("failing for") for _, _, body in outage)
        assert ready_after, "/readyz did not come back to 200 after the outage"
        stop_server(server)
        log = (instance / "server.log").read_text(errors="replace")
        assert "not recorded" not in log, log[-3000:]


@pytest.mark.slow
@pytest.mark.postgres
def test_a_server_started_while_the_database_is_away_serves_and_stores_once_it_is_back(
    tmp_path, model_store, postgres
):
    postgres.stop()  # a fresh database, not even its tables made yet
    database = {"MODELPORT_DATABASE_URL": postgres.url}
    with serving_under_load(tmp_path / "instance", model_store, threads=2, env=database) as server:
        with Load(server.url) as load:
            assert wait_until(lambda: load.count() >= 50, timeout=60)
            watch = ReadyzWatch(server.url)
            watch.thread.start()
            assert wait_until(lambda: any(s == 503 for _, s, _ in watch.seen), timeout=30)
            postgres.start()
            assert wait_until(lambda: watch.seen and watch.seen[-1][1] == 200, timeout=60)
            watch.stop.set()
            watch.thread.join()
        assert all_stored_in(postgres.url, load.ids())
        stop_server(server)
