"""Rate limits per client: a 429 with Retry-After past the limit, counted across the two
workers of a live ``modelport serve``; feedback and sign-in limits; teachers and operators
exempt; the counter itself on SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from conftest import (
    AuthActions,
    bearer,
    cli_token,
    data_uri,
    drawn_one,
    make_app,
    start_server,
    stop_server,
)
from store_support import database_url, store  # noqa: F401 - fixtures

from modelport.config import Settings
from modelport.store.ratelimit import SqlCounter, SqliteCounter

LIMIT = 6
CLIENTS, REQUESTS = 4, 32  # at once, each request on a connection of its own


def clear_of_the_hour() -> None:
    """The windows are fixed hours: do not start a test in the last seconds of one."""
    left = 3600 - time.time() % 3600
    if left < 30:
        time.sleep(left + 1)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_store):
    root = tmp_path_factory.mktemp("rate-limits")
    live = start_server(
        root,
        model_store,
        ("digits-knn",),
        extra_env={"MODELPORT_RATE_LIMIT_PREDICT": f"{LIMIT}/hour"},
        args=("--workers", "2", "--threads", "2"),
    )
    yield live
    stop_server(live)


def worker_of(server, request_id: str) -> int:
    """Which worker answered: the request log says (one JSON line per request)."""
    for _ in range(100):
        for line in (server.instance_path / "server.log").read_text().splitlines():
            if f'"{request_id}"' in line and line.startswith("{"):
                return json.loads(line)["pid"]
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} is not in the log")


def call(server, path: str, body: str | None = None, headers=None) -> tuple[int, dict, bytes]:
    """One request on a connection of its own (so the workers share them out); the
    answer's header names in lower case."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST" if body else "GET", path, body=body, headers=headers or {})
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.headers.items()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def both_workers_ready(server) -> None:
    pids: set[int] = set()
    deadline = time.monotonic() + 120
    while len(pids) < 2 and time.monotonic() < deadline:
        status, _, body = call(server, "/readyz")
        if status == 200:
            pids.add(json.loads(body)["pid"])
    assert len(pids) == 2, "the second worker never got ready"


@pytest.mark.slow
def test_the_limit_is_shared_by_the_workers_of_a_server(server):
    both_workers_ready(server)
    clear_of_the_hour()
    body = json.dumps({"image": data_uri(drawn_one())})
    answers: list[tuple[int, dict, bytes, str]] = []

    def client(number: int) -> None:
        for each in range(REQUESTS // CLIENTS):
            request_id = f"rate-limit-{number}-{each}"
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Request-ID": request_id,
            }
            answers.append((*call(server, "/api/predict", body, headers), request_id))

    clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(120)

    statuses = Counter(status for status, *_ in answers)
    assert statuses == Counter({200: LIMIT, 429: REQUESTS - LIMIT})
    # Both workers answered: counted apart, each would have let its own LIMIT through.
    assert len({worker_of(server, request_id) for *_, request_id in answers}) == 2
    status, headers, payload, _ = next(answer for answer in answers if answer[0] == 429)
    refused = json.loads(payload)
    assert refused["error"] == "too_many_requests"
    assert f"at most {LIMIT} an hour" in refused["detail"]
    assert 0 < int(headers["retry-after"]) <= 3600
    remaining = sorted(int(h["ratelimit-remaining"]) for s, h, _, _ in answers if s == 200)
    assert remaining == list(range(LIMIT))

    # An operator's program is not limited.
    token = cli_token(server.instance_path, "operator", "load-test")
    for _ in range(3):
        headers = {"Content-Type": "application/json"} | bearer(token)
        assert call(server, "/api/predict", body, headers)[0] == 200


def predict(client, headers=None, **environ):
    return client.post(
        "/api/predict",
        json={"image": data_uri(drawn_one()), "model": "digits-knn"},
        headers={"Accept": "application/json"} | (headers or {}),
        environ_base=environ,
    )


def test_feedback_and_sign_in_have_limits_of_their_own(tmp_path, model_store):
    clear_of_the_hour()
    app = make_app(
        tmp_path,
        model_store,
        ("digits-knn",),
        {
            "MODELPORT_RATE_LIMIT_FEEDBACK": "2/hour",
            "MODELPORT_RATE_LIMIT_LOGIN": "3/hour",
            "MODELPORT_RATE_LIMIT_PREDICT": "off",
        },
    )
    client = app.test_client()
    made = predict(client).json
    feedback = f"/api/v1/predictions/{made['id']}/feedback"
    assert [client.post(feedback, json={"label": "1"}).status_code for _ in range(2)] == [200] * 2
    refused = client.post(feedback, json={"label": "1"})
    assert refused.status_code == 429 and refused.json["error"] == "too_many_requests"
    assert "answers" in refused.json["detail"] and int(refused.headers["Retry-After"]) > 0
    # Another client (another address) has its own count; a teacher has none.
    other = app.test_client()
    made = predict(other, REMOTE_ADDR="198.51.100.7").json
    again = other.post(
        f"/api/v1/predictions/{made['id']}/feedback",
        json={"label": "1"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert again.status_code == 200
    auth = AuthActions(app)
    assert client.post(feedback, json={"label": "1"}, headers=auth.headers()).status_code == 200
    assert all(predict(client).status_code == 200 for _ in range(5))  # "off"

    auth.user("ada")
    tries = [auth.login(client, "ada", "guess").status_code for _ in range(3)]
    assert tries == [401] * 3
    blocked = auth.login(client, "ada")  # even the right password, for now
    assert blocked.status_code == 429 and "sign-in attempts" in blocked.text
    assert "Retry-After" in blocked.headers


def test_an_ipv6_client_is_its_64_network(tmp_path, model_store):
    clear_of_the_hour()
    app = make_app(
        tmp_path, model_store, ("digits-knn",), {"MODELPORT_RATE_LIMIT_PREDICT": "2/hour"}
    )
    client = app.test_client()
    first = predict(client, REMOTE_ADDR="2001:db8:1:2::1")
    second = predict(client, REMOTE_ADDR="2001:db8:1:2::ffff")  # same /64: same client
    third = predict(client, REMOTE_ADDR="2001:db8:1:2:aaaa::2")
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert predict(client, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_limits_are_read_from_the_environment():
    settings = Settings.from_env(
        {"MODELPORT_RATE_LIMIT_PREDICT": "10/second", "MODELPORT_RATE_LIMIT_FEEDBACK": "OFF"}
    )
    assert settings.rate_limit_predict == "10/second" and settings.rate_limit_feedback == "off"
    defaults = Settings.from_env({})
    assert (defaults.rate_limit_predict, defaults.rate_limit_feedback) == (
        "600/minute",
        "30/minute",
    )
    for bad in ["ten/minute", "10/fortnight", "0/minute"]:
        with pytest.raises(ValueError, match="MODELPORT_RATE_LIMIT_PREDICT"):
            Settings.from_env({"MODELPORT_RATE_LIMIT_PREDICT": bad})


def check_counter(counter) -> None:
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    verdicts = [counter.hit("predict:a", 3, 60, now=start + i) for i in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert verdicts[-1].retry_after == 57
    assert counter.hit("predict:b", 3, 60, now=start + 5).allowed  # another client
    assert counter.hit("predict:a", 3, 60, now=start + 60).remaining == 2  # a new window
    assert counter.sweep(now=start + 2 * 86400) == 2


def test_the_counter_on_the_database(store):  # noqa: F811
    check_counter(SqlCounter(store))


def test_the_counter_in_its_own_sqlite_file(tmp_path):
    check_counter(SqliteCounter(tmp_path / "counts.db"))
    broken = SqliteCounter(tmp_path / "not-a-folder" / "x")
    (tmp_path / "not-a-folder").write_text("a file where a folder should be")
    assert broken.hit("predict:a", 1, 60).allowed  # cannot count: lets the request through
