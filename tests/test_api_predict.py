"""The prediction API: the classic contract and the versioned routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import data_uri, drawn_one

from modelport.store import queries as q

TEST_REQUEST = Path(__file__).parent / "data" / "test_request.json"


def test_classic_curl_example_answers_the_digit_as_plain_text(client):
    # curl -X POST -H "Content-Type: application/json" -d @test_request.json /api/predict
    response = client.post(
        "/api/predict", data=TEST_REQUEST.read_bytes(), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "7\n"  # a line, as a terminal shows it


@pytest.mark.parametrize("model", ["digits", "digits-knn"])
def test_classic_route_answers_json_when_asked(client, model):
    body = json.loads(TEST_REQUEST.read_text()) | {"model": model}
    response = client.post("/api/predict", json=body, headers={"Accept": "application/json"})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["digit"] == 7
    assert answer["model"] == model
    assert answer["version"]
    assert len(answer["probabilities"]) == 10
    assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-3)
    assert max(answer["probabilities"]) == answer["probabilities"][7]
    assert answer["latency_ms"] > 0
    assert answer["id"]
    assert [p["label"] for p in answer["top"]][0] == "7"
    assert answer["preview"].startswith("data:image/png;base64,")


def test_a_draft_is_answered_and_not_stored(app, client):
    body = json.loads(TEST_REQUEST.read_text())
    headers = {"Accept": "application/json"}
    recorder = app.extensions["modelport"].recorder
    recorder.flush()
    stored = q.count_predictions(app.extensions["modelport_store"])
    draft = client.post("/api/predict", json=body | {"draft": True}, headers=headers)
    assert draft.status_code == 200
    assert draft.get_json()["digit"] == 7 and draft.get_json()["id"] is None
    final = client.post("/api/predict", json=body | {"draft": False}, headers=headers)
    assert final.get_json()["id"]
    recorder.flush()
    assert q.count_predictions(app.extensions["modelport_store"]) == stored + 1


def test_classic_route_uses_the_cnn_by_default(client):
    body = json.loads(TEST_REQUEST.read_text())
    response = client.post("/api/predict", json=body, headers={"Accept": "application/json"})
    assert response.get_json()["model"] == "digits"


@pytest.mark.parametrize(
    "canvas",
    [
        {"size": (280, 280)},
        {"size": (560, 560), "width": 30},
        {"size": (320, 240)},
        {"size": (200, 200), "background": (255, 255, 255, 255), "ink": (20, 40, 200, 255)},
        {"size": (280, 280), "background": (0, 0, 0, 255), "ink": (255, 255, 255, 255)},
        {"size": (280, 280), "background": (255, 255, 255, 255), "ink": (128, 128, 128, 255)},
    ],
    ids=["transparent", "large", "landscape", "blue-on-white", "white-on-black", "grey-ink"],
)
@pytest.mark.parametrize("model", ["digits", "digits-knn"])
def test_any_canvas_and_ink_reads_the_same_digit(client, canvas, model):
    image = data_uri(drawn_one(**canvas))
    response = client.post("/api/predict", json={"image": image, "model": model})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1\n"


def test_v1_takes_a_data_uri_a_multipart_file_or_raw_bytes(client):
    png = drawn_one()
    as_json = client.post("/api/v1/models/digits/predict", json={"image": data_uri(png)})
    as_file = client.post(
        "/api/v1/models/digits/predict",
        data={"file": (__import__("io").BytesIO(png), "digit.png")},
        content_type="multipart/form-data",
    )
    as_raw = client.post("/api/v1/models/digits/predict", data=png, content_type="image/png")
    answers = [r.get_json() for r in (as_json, as_file, as_raw)]
    assert [r.status_code for r in (as_json, as_file, as_raw)] == [200, 200, 200]
    for answer in answers:
        assert answer["model"] == "digits"
        assert answer["predictions"][0]["label"] == "1"
        scores = [p["score"] for p in answer["predictions"]]
        assert scores == sorted(scores, reverse=True)
        assert len(scores) == 10
        assert answer["id"] and answer["latency_ms"] > 0 and answer["version"]


def test_v1_top_k_limits_the_predictions(client):
    response = client.post(
        "/api/v1/models/digits-knn/predict?top_k=3", data=drawn_one(), content_type="image/png"
    )
    assert response.status_code == 200
    assert len(response.get_json()["predictions"]) == 3


def test_models_are_listed_and_described(client):
    listed = client.get("/api/v1/models").get_json()["models"]
    assert {m["name"] for m in listed} == {"digits", "digits-knn"}
    for model in listed:
        assert model["input_kind"] == "sketch"
        assert model["version"]
    knn = client.get("/api/v1/models/digits-knn").get_json()
    assert knn["labels"] == [str(d) for d in range(10)]
    assert knn["metrics"]["validation_accuracy"] > 0.95
