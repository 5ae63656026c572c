"""History, feedback and model cards through the app, on a real SQLite file."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import data_uri, drawn_one, make_app
from PIL import Image
from store_support import event

from modelport.cli import main
from modelport.store import SqlRecorder
from modelport.store import queries as q
from modelport.web.history import FEEDBACK_WAIT_S

JSON = {"Accept": "application/json"}


@pytest.fixture
def app(tmp_path_factory):
    """An app of its own: its model store learns, so no other test may share it."""
    root = tmp_path_factory.mktemp("history")
    return make_app(root / "instance", root / "models", ("digits-knn",))


@pytest.fixture
def client(app):
    return app.test_client()


def predict(client, drawing: bytes | None = None) -> dict:
    response = client.post(
        "/api/predict",
        json={"image": data_uri(drawing or drawn_one()), "model": "digits-knn"},
        headers=JSON,
    )
    assert response.status_code == 200, response.json
    return response.json


def flush(app) -> None:
    assert app.extensions["modelport"].recorder.flush(timeout=10)


def test_every_prediction_is_listed_newest_first(app, client):
    first, second = predict(client), predict(client)
    flush(app)
    listing = client.get("/api/v1/predictions").json
    assert listing["total"] == 2
    assert [p["id"] for p in listing["predictions"]] == [second["id"], first["id"]]
    item = listing["predictions"][0]
    assert item["model"] == "digits-knn" and item["label"] == str(second["digit"])
    assert item["feedback"] is None
    page = client.get("/api/v1/predictions?per_page=1&page=2").json
    assert [p["id"] for p in page["predictions"]] == [first["id"]]
    assert page["pages"] == 2


def test_right_and_wrong_answers_are_stored_and_filterable(app, client):
    right, wrong = predict(client), predict(client)
    said_right = client.post(
        f"/api/v1/predictions/{right['id']}/feedback", json={"label": str(right["digit"])}
    )
    assert said_right.status_code == 200
    assert said_right.json["is_correct"] is True and said_right.json["learned"] is False
    correction = "7" if wrong["digit"] != 7 else "4"
    said_wrong = client.post(
        f"/api/v1/predictions/{wrong['id']}/feedback", json={"label": correction}
    )
    assert said_wrong.json["is_correct"] is False
    # A visitor's correction is a suggestion: nothing is learned before an operator agrees.
    assert said_wrong.json["suggestion"] is True and said_wrong.json["learned"] is False
    corrected = client.get("/api/v1/predictions?corrected=true").json["predictions"]
    assert [p["id"] for p in corrected] == [wrong["id"]]
    assert corrected[0]["feedback"]["label"] == correction
    page = client.get("/history?corrected=true")
    assert page.status_code == 200
    assert wrong["id"] in page.text and right["id"] not in page.text
    assert "text-bg-danger" in page.text


def test_a_teachers_correction_is_learned_at_once(client, auth):
    drawing = drawn_one(size=(300, 200))
    first = predict(client, drawing)
    correction = "7" if first["digit"] != 7 else "4"
    response = client.post(
        f"/api/v1/predictions/{first['id']}/feedback",
        json={"label": correction},
        headers=auth.headers("teacher"),
    )
    assert response.json["learned"] is True and response.json["suggestion"] is False
    assert response.json["status"] == "trusted"
    assert predict(client, drawing)["digit"] == int(correction)


def test_a_visitors_correction_is_learned_once_an_operator_accepts_it(app, client, auth):
    drawing = drawn_one(size=(200, 300))
    first = predict(client, drawing)
    correction = "2" if first["digit"] != 2 else "3"
    feedback = f"/api/v1/predictions/{first['id']}/feedback"
    for _ in range(3):  # repeated: still one suggestion
        suggested = client.post(feedback, json={"label": correction})
        assert suggested.status_code == 200
        assert suggested.json["suggestion"] is True and suggested.json["learned"] is False
    assert predict(client, drawing)["digit"] == first["digit"]  # nothing learned yet
    teacher = client.post(feedback + "/accept", headers=auth.headers("teacher"))
    assert teacher.status_code == 403 and teacher.json["error"] == "forbidden"
    accepted = client.post(feedback + "/accept", headers=auth.headers("operator"))
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["learned"] is True and accepted.json["status"] == "accepted"
    assert predict(client, drawing)["digit"] == int(correction)
    again = client.post(feedback + "/accept", headers=auth.headers("operator"))
    assert again.json["learned"] is False  # learned once: accepting again adds nothing
    knn = app.extensions["modelport"].registry.get("digits-knn")
    assert knn.info.metrics["learned_samples"] == 1


def test_feedback_waits_for_a_prediction_still_being_written(app, client):
    predict(client)  # the visitor gets their id
    with client.session_transaction() as session:
        visitor = session["visitor"]
    # Written by another recorder (another worker's), not flushed by this request.
    other_worker = SqlRecorder(app.extensions["modelport_store"])
    drawing = drawn_one()
    made = event(data=drawing, image=Image.open(io.BytesIO(drawing)))
    made.owner = visitor  # this visitor made it, through another worker
    other_worker.record(made)
    response = client.post(f"/api/v1/predictions/{made.id}/feedback", json={"label": "1"})
    assert response.status_code == 200, response.json
    assert response.json["is_correct"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (b"{}", 400, "missing_label"),
        (b'{"label": ""}', 400, "missing_label"),
        (b'{"label": ["7"]}', 400, "missing_label"),
        (b'{"label": "cat"}', 422, "unknown_label"),
        (b'{"label": "10"}', 422, "unknown_label"),
    ],
)
def test_bad_feedback_is_a_json_4xx(app, client, body, status, code):
    made = predict(client)
    response = client.post(
        f"/api/v1/predictions/{made['id']}/feedback", data=body, content_type="application/json"
    )
    assert response.status_code == status
    assert response.json["error"] == code and response.json["detail"]


def test_unknown_predictions_are_404(client):
    response = client.post("/api/v1/predictions/nope/feedback", json={"label": "1"})
    assert response.status_code == 404 and response.json["error"] == "unknown_prediction"
    an_hour_ago = f"{(time.time_ns() // 1_000_000) - 3_600_000:012x}00000000"
    started = time.monotonic()
    response = client.post(f"/api/v1/predictions/{an_hour_ago}/feedback", json={"label": "1"})
    assert response.status_code == 404
    assert time.monotonic() - started < FEEDBACK_WAIT_S  # only fresh ids wait for a writer
    response = client.get("/api/v1/predictions/nope/input")
    assert response.status_code == 404 and response.json["error"] == "unknown_prediction"


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "per_page=1000", "per_page=-1", "corrected=maybe"]
)
def test_bad_listing_parameters_are_400(client, query):
    response = client.get(f"/api/v1/predictions?{query}")
    assert response.status_code == 400 and response.json["error"].startswith("invalid_")
    assert client.get(f"/history?{query}").status_code == 400


def test_the_stored_drawing_is_served_as_sent(app, client):
    drawing = drawn_one(size=(120, 90))
    made = predict(client, drawing)
    flush(app)
    response = client.get(f"/api/v1/predictions/{made['id']}/input")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == drawing


def test_csv_export(app, client):
    made = [predict(client) for _ in range(3)]
    flush(app)
    response = client.get("/api/v1/predictions.csv?model=digits-knn")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["id"] for row in rows} == {m["id"] for m in made}
    assert client.get("/api/v1/predictions.csv?model=digits").text.count("\n") == 1


def test_model_card_shows_accuracies_and_the_confusion_matrix(app, client):
    card = client.get("/models/digits-knn")
    assert card.status_code == 200
    assert "no feedback yet" in card.text and 'id="confusion-empty"' in card.text
    validation = app.extensions["modelport"].registry.get("digits-knn").info.metrics
    assert f"{validation['validation_accuracy'] * 100:.1f}%" in card.text
    made = [predict(client) for _ in range(2)]
    client.post(f"/api/v1/predictions/{made[0]['id']}/feedback", json={"label": "1"})
    client.post(f"/api/v1/predictions/{made[1]['id']}/feedback", json={"label": "8"})
    card = client.get("/models/digits-knn").text
    assert "50.0%" in card and "1 right of 2 judged" in card
    picture = client.get("/models/digits-knn/confusion.png")
    assert picture.mimetype == "image/png"
    assert Image.open(io.BytesIO(picture.data)).size[0] >= 300
    assert client.get("/models/nope").status_code == 404


def test_db_upgrade_and_history_purge_commands(app, client, cli_runner, tmp_path):
    env = {"MODELPORT_INSTANCE_PATH": str(app.instance_path)}
    result = cli_runner.invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0 and "0004" in result.output
    kept, gone = predict(client), predict(client)
    flush(app)
    client.post(f"/api/v1/predictions/{kept['id']}/feedback", json={"label": "8"})
    date = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    result = cli_runner.invoke(main, ["history", "purge", "--before", date], env=env)
    assert result.exit_code == 0, result.output
    assert "deleted 1 predictions" in result.output
    ids = [p["id"] for p in client.get("/api/v1/predictions").json["predictions"]]
    assert ids == [kept["id"]] and gone["id"] not in ids
    result = cli_runner.invoke(
        main, ["history", "purge", "--before", date, "--include-corrections"], env=env
    )
    assert "deleted 1 predictions" in result.output
    assert q.count_predictions(app.extensions["modelport_store"]) == 0
    bad = cli_runner.invoke(main, ["history", "purge", "--before", "last tuesday"], env=env)
    assert bad.exit_code == 2
