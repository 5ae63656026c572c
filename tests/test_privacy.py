"""Privacy and poisoning, over real HTTP against ``modelport serve`` with two workers: each
visitor (a cookie jar of its own) sees only their own predictions; a visitor's correction
teaches digits-knn nothing until an operator accepts it, and repeating it adds nothing.
Then /metrics, public history and MODELPORT_LEARN_FROM through the test client."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import pytest
from conftest import (
    bearer,
    cli_token,
    data_uri,
    drawn_one,
    make_app,
    start_server,
    stop_server,
)

from modelport.store import Store, learned

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """digits-knn learns into this server's own model store."""
    root = tmp_path_factory.mktemp("privacy")
    live = start_server(root, root / "models", ("digits-knn",), args=("--workers", "2"))
    live.operator = cli_token(root, "operator", "privacy-ops")
    live.teacher = cli_token(root, "teacher", "privacy-teacher")
    yield live
    stop_server(live)


class Browser:
    """An HTTP client with a cookie jar of its own: one visitor."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method: str, path: str, body=None) -> tuple[int, dict, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = self.headers | {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body=None) -> tuple[int, dict]:
        status, _, payload = self.call(method, path, body)
        return status, json.loads(payload)

    def predict(self, drawing: bytes) -> dict:
        status, answer = self.json("POST", "/api/predict", {"image": data_uri(drawing)})
        assert status == 200, answer
        return answer

    def listed(self) -> set[str]:
        status, page = self.json("GET", "/api/v1/predictions?per_page=100")
        assert status == 200, page
        return {p["id"] for p in page["predictions"]}


def wait_stored(server, *ids: str) -> None:
    staff = Browser(server.url, bearer(server.operator))
    for _ in range(200):
        if set(ids) <= staff.listed():
            return
        time.sleep(0.05)
    raise AssertionError(f"predictions {ids} never reached the history")


def learned_samples(server) -> int:
    """How many corrections digits-knn learned, as the database (every worker's source) says."""
    store = Store(f"sqlite:///{server.instance_path / 'modelport.db'}")
    try:
        return len(learned.corrections(store, "digits-knn"))
    finally:
        store.dispose()


def answers_settle_on(browser: Browser, drawing: bytes, digit: int) -> bool:
    """Whether every worker answers ``digit`` within the second they have to catch up."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if {browser.predict(drawing)["digit"] for _ in range(8)} == {digit}:
            return True
    return False


def test_a_visitor_sees_only_their_own_predictions(server):
    alice, bob = Browser(server.url), Browser(server.url)
    hers = [alice.predict(drawn_one())["id"], alice.predict(drawn_one(width=24))["id"]]
    his = bob.predict(drawn_one(size=(100, 100)))["id"]
    wait_stored(server, *hers, his)

    assert alice.listed() == set(hers) and bob.listed() == {his}
    assert Browser(server.url).listed() == set()  # no cookie yet: nothing of anyone's
    status, _, body = bob.call("GET", "/api/v1/predictions.csv")
    assert status == 200
    assert [row["id"] for row in csv.DictReader(io.StringIO(body.decode()))] == [his]
    status, _, page = bob.call("GET", "/history")
    assert "Your predictions" in page.decode() and hers[0] not in page.decode()

    # Another person's prediction is not there for bob: not its picture, not its feedback.
    assert alice.call("GET", f"/api/v1/predictions/{hers[0]}/input")[0] == 200
    status, refused = bob.json("GET", f"/api/v1/predictions/{hers[0]}/input")
    assert status == 404 and refused["error"] == "unknown_prediction"
    status, refused = bob.json("POST", f"/api/v1/predictions/{hers[0]}/feedback", {"label": "4"})
    assert status == 404 and refused["error"] == "unknown_prediction"
    status, mine = alice.json("POST", f"/api/v1/predictions/{hers[0]}/feedback", {"label": "4"})
    assert status == 200 and mine["suggestion"] is True

    # Teachers and operators see everyone's.
    for token in (server.teacher, server.operator):
        assert {*hers, his} <= Browser(server.url, bearer(token)).listed()
    status, _, body = Browser(server.url, bearer(server.teacher)).call(
        "GET", "/api/v1/predictions.csv"
    )
    assert {*hers, his} <= {row["id"] for row in csv.DictReader(io.StringIO(body.decode()))}


def test_a_visitors_correction_teaches_nothing_until_an_operator_accepts_it(server):
    visitor, someone_else = Browser(server.url), Browser(server.url)
    drawing = drawn_one(size=(260, 200), width=22)
    made = visitor.predict(drawing)
    before = made["digit"]
    correction = "3" if before != 3 else "5"
    wait_stored(server, made["id"])
    learned = learned_samples(server)

    feedback = f"/api/v1/predictions/{made['id']}/feedback"
    for _ in range(3):  # the poisoning attempt: the same correction, again and again
        status, answer = visitor.json("POST", feedback, {"label": correction})
        assert status == 200
        assert answer["suggestion"] is True and answer["learned"] is False
    # Both workers still answer the drawing as before, for everyone.
    assert {someone_else.predict(drawing)["digit"] for _ in range(8)} == {before}
    assert learned_samples(server) == learned

    operator = Browser(server.url, bearer(server.operator))
    status, accepted = operator.json("POST", feedback + "/accept")
    assert status == 200, accepted
    assert accepted["learned"] is True and accepted["status"] == "accepted"
    assert answers_settle_on(someone_else, drawing, int(correction))
    assert learned_samples(server) == learned + 1

    # Repeats add nothing: accepting again, or a teacher saying the same thing thrice.
    assert operator.json("POST", feedback + "/accept")[1]["learned"] is False
    teacher = Browser(server.url, bearer(server.teacher))
    for _ in range(3):
        status, answer = teacher.json("POST", feedback, {"label": correction})
        assert status == 200 and answer["learned"] is False and answer["status"] == "trusted"
    assert learned_samples(server) == learned + 1
    # The visitor cannot overrule it any more.
    status, answer = visitor.json("POST", feedback, {"label": "8"})
    assert status == 409 and answer["error"] == "already_judged"


def test_a_teachers_correction_is_learned_by_every_worker_and_a_rejected_one_never(server):
    visitor = Browser(server.url)
    teacher = Browser(server.url, bearer(server.teacher))
    operator = Browser(server.url, bearer(server.operator))
    drawing, other = drawn_one(size=(180, 260), width=14), drawn_one(size=(220, 220), width=26)
    made, other_made = visitor.predict(drawing), visitor.predict(other)
    wait_stored(server, made["id"], other_made["id"])
    correction = "9" if made["digit"] != 9 else "6"
    status, answer = teacher.json(
        "POST", f"/api/v1/predictions/{made['id']}/feedback", {"label": correction}
    )
    assert status == 200 and answer["learned"] is True and answer["suggestion"] is False
    assert answers_settle_on(visitor, drawing, int(correction))

    wrong = "0" if other_made["digit"] != 0 else "2"
    feedback = f"/api/v1/predictions/{other_made['id']}/feedback"
    assert visitor.json("POST", feedback, {"label": wrong})[1]["suggestion"] is True
    status, rejected = operator.json("POST", feedback + "/reject")
    assert status == 200 and rejected["status"] == "rejected" and rejected["learned"] is False
    again = visitor.json("POST", feedback, {"label": wrong})[1]  # the same, once more
    assert again["status"] == "rejected" and again["learned"] is False
    assert {visitor.predict(other)["digit"] for _ in range(6)} == {other_made["digit"]}


# /metrics, public history and what models learn from, through the test client ----------


@pytest.fixture
def app(tmp_path, model_store):
    return make_app(tmp_path / "instance", model_store, ("digits-knn",))


def test_metrics_answer_this_machine_the_allowed_networks_and_operators(
    app, auth, tmp_path, model_store
):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    outside = {"REMOTE_ADDR": "203.0.113.5"}
    refused = client.get("/metrics", environ_base=outside)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert "MODELPORT_METRICS_ALLOW" in refused.json["detail"]
    teacher = client.get("/metrics", environ_base=outside, headers=auth.headers("teacher"))
    assert teacher.status_code == 403
    operator = client.get("/metrics", environ_base=outside, headers=auth.headers("operator"))
    assert operator.status_code == 200 and b"modelport_" in operator.data

    network = {"MODELPORT_METRICS_ALLOW": "10.0.0.0/8"}
    allowed = make_app(tmp_path / "allowed", model_store, ("digits-knn",), network).test_client()
    assert allowed.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert allowed.get("/metrics", environ_base={"REMOTE_ADDR": "11.1.2.3"}).status_code == 403

    # Behind a proxy on this machine every request comes from 127.0.0.1: with the proxy
    # declared, the client's own address (X-Forwarded-For) is the one that counts.
    proxied = make_app(
        tmp_path / "proxied", model_store, ("digits-knn",), {"MODELPORT_TRUSTED_PROXIES": "1"}
    ).test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    assert proxied.get("/metrics", headers=forwarded).status_code == 403
    assert proxied.get("/metrics").status_code == 200


def predict(client, drawing: bytes, headers=None) -> dict:
    response = client.post(
        "/api/predict",
        json={"image": data_uri(drawing), "model": "digits-knn"},
        headers={"Accept": "application/json"} | (headers or {}),
    )
    assert response.status_code == 200, response.json
    return response.json


def test_public_history_shows_everyones_predictions_on_purpose(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("digits-knn",), {"MODELPORT_PUBLIC_HISTORY": "true"})
    alice, bob = app.test_client(), app.test_client()
    made = predict(alice, drawn_one())
    assert app.extensions["modelport"].recorder.flush(10)
    listed = bob.get("/api/v1/predictions").json["predictions"]
    assert [p["id"] for p in listed] == [made["id"]]
    assert bob.get(f"/api/v1/predictions/{made['id']}/input").status_code == 200
    assert "Prediction history" in bob.get("/history").text


@pytest.mark.parametrize(
    ("learn_from", "visitor_learns", "teacher_learns"),
    [("everyone", True, True), ("nobody", False, False), ("trusted", False, True)],
)
def test_what_models_learn_from_is_a_setting(tmp_path, learn_from, visitor_learns, teacher_learns):
    app = make_app(
        tmp_path / "instance",
        tmp_path / "models",  # its own: this one learns
        ("digits-knn",),
        {"MODELPORT_LEARN_FROM": learn_from},
    )
    from conftest import AuthActions

    auth, client = AuthActions(app), app.test_client()
    for who, headers, learns in [
        ("visitor", {}, visitor_learns),
        ("teacher", auth.headers("teacher"), teacher_learns),
    ]:
        drawing = drawn_one(size=(150, 250) if who == "visitor" else (250, 150))
        made = predict(client, drawing)
        correction = "5" if made["digit"] != 5 else "6"
        feedback = f"/api/v1/predictions/{made['id']}/feedback"
        answer = client.post(feedback, json={"label": correction}, headers=headers).json
        assert answer["learned"] is learns, (who, answer)
        expected = int(correction) if learns else made["digit"]
        assert predict(client, drawing)["digit"] == expected
