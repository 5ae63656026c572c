"""/draw without JavaScript: a picture of a digit posted as a form, answered on the page, and
Right/Wrong as plain forms (``POST /predictions/<id>/feedback``), through the test client."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import csrf_token, data_uri, make_app, png_bomb

from modelport.store import queries as q

EXAMPLES = Path(__file__).resolve().parents[1] / "src/modelport/web/static/examples/digits"


@pytest.fixture(scope="module")
def app(tmp_path_factory, model_store):
    """An app of this module's own, so its many answers count against no other's limit."""
    return make_app(
        tmp_path_factory.mktemp("draw-nojs"),
        model_store,
        ("digits", "digits-knn"),
        {"MODELPORT_RATE_LIMIT_FEEDBACK": "off"},
    )


def example(digit: str) -> bytes:
    return (EXAMPLES / f"{digit}.png").read_bytes()


def upload(client, data: bytes, filename: str = "digit.png", model: str | None = "digits"):
    form = {"file": (io.BytesIO(data), filename)}
    if model is not None:
        form["model"] = model
    return client.post("/draw", data=form, content_type="multipart/form-data")


def shown(page_text: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', page_text)
    return found.group(1).strip() if found else ""


def prediction_id(page_text: str) -> str:
    return re.search(r'action="/predictions/([0-9a-f]{20})/feedback"', page_text).group(1)


def feedback_of(client, pid: str) -> dict | None:
    """The prediction's feedback as the history API lists it, once the recorder has it."""
    client.application.extensions["modelport"].recorder.flush(timeout=10)
    listed = client.get("/api/v1/predictions", query_string={"per_page": 100}).get_json()
    return next(p for p in listed["predictions"] if p["id"] == pid)["feedback"]


def test_the_page_offers_an_upload_form_for_when_javascript_is_off(client):
    page = client.get("/draw").text
    noscript = page[page.index("<noscript>") : page.index("</noscript>")]
    assert "Drawing needs JavaScript" in noscript
    assert 'action="/draw"' in noscript and 'enctype="multipart/form-data"' in noscript
    assert 'name="csrf_token"' in noscript and 'name="file"' in noscript
    assert 'name="model"' in noscript


@pytest.mark.parametrize("model", ["digits", "digits-knn"])
@pytest.mark.parametrize("digit", ["0", "3", "5", "7", "8"])
def test_each_example_drawing_is_answered_rightly(client, digit, model):
    answer = client.post(
        "/api/predict",
        json={"image": data_uri(example(digit)), "model": model},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.get_json()["digit"] == int(digit)
    assert len(example(digit)) < 20_000


def test_an_uploaded_digit_is_answered_on_the_page(client):
    response = upload(client, example("7"), model="digits-knn")
    assert response.status_code == 200
    page = response.text
    assert shown(page, "digit") == "7"
    assert "digits-knn" in page and "7.png" in page
    assert page.count('class="prob-row') == 10
    assert 'id="preview" class="model-preview"' in page and 'src="data:image/png;base64,' in page
    assert 'name="correct" value="yes"' in page
    assert shown(page, "error") == ""


def test_right_on_a_server_rendered_answer_records_feedback_and_thanks(client):
    pid = prediction_id(upload(client, example("3")).text)
    sent = client.post(
        f"/predictions/{pid}/feedback", data={"correct": "yes", "next": "/draw?model=digits"}
    )
    assert sent.status_code == 302 and sent.headers["Location"] == "/draw?model=digits"
    recorded = feedback_of(client, pid)
    assert recorded["label"] == "3" and recorded["is_correct"] is True
    assert "Thanks: marked right." in client.get("/draw").text


def test_wrong_with_the_right_label_records_a_suggestion(client):
    pid = prediction_id(upload(client, example("5")).text)
    sent = client.post(f"/predictions/{pid}/feedback", data={"correct": "no", "label": "6"})
    assert sent.status_code == 302
    recorded = feedback_of(client, pid)
    assert recorded["label"] == "6" and recorded["is_correct"] is False
    assert recorded["status"] == "suggested"


@pytest.mark.parametrize(
    "next_value", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""]
)
def test_feedback_never_redirects_off_the_site(client, next_value):
    pid = prediction_id(upload(client, example("8")).text)
    sent = client.post(f"/predictions/{pid}/feedback", data={"correct": "yes", "next": next_value})
    assert sent.status_code == 302 and sent.headers["Location"] == "/history"


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({}, 400, "right (yes or no)"),
        ({"correct": "maybe"}, 400, "right (yes or no)"),
        ({"correct": "no"}, 400, "Choose the right answer"),
        ({"correct": "no", "label": "tabby cat"}, 422, "has no label"),
    ],
)
def test_bad_feedback_forms_get_a_friendly_4xx_page(client, form, status, words):
    pid = prediction_id(upload(client, example("0")).text)
    refused = client.post(f"/predictions/{pid}/feedback", data=form)
    assert refused.status_code == status
    assert refused.mimetype == "text/html" and words in refused.text
    assert feedback_of(client, pid) is None


def test_a_visitor_cannot_judge_another_visitors_prediction(app, client):
    pid = prediction_id(upload(client, example("7")).text)
    stranger = app.test_client()
    refused = stranger.post(f"/predictions/{pid}/feedback", data={"correct": "no", "label": "1"})
    assert refused.status_code == 404 and "There is no prediction" in refused.text
    refused = stranger.post("/predictions/not-an-id/feedback", data={"correct": "yes"})
    assert refused.status_code == 404
    assert feedback_of(client, pid) is None


def test_a_teachers_answer_stands_against_a_visitors_later_suggestion(app, client, auth):
    pid = prediction_id(upload(client, example("7")).text)
    teacher = app.test_client()
    auth.login(teacher, auth.user("draw-teacher"))
    # A teacher sees every prediction, so may judge this visitor's too.
    assert teacher.post(f"/predictions/{pid}/feedback", data={"correct": "yes"}).status_code == 302
    refused = client.post(f"/predictions/{pid}/feedback", data={"correct": "no", "label": "1"})
    assert refused.status_code == 409 and "already said" in refused.text


@pytest.mark.parametrize(
    ("data", "filename", "status", "words"),
    [
        (b"hello, not a picture", "notes.txt", 415, "is not a photo"),
        (b"hello, not a picture", "digit.png", 415, "its content is not a PNG"),
        (b"", "", 400, "Choose a picture of a digit first"),
        (png_bomb(), "bomb.png", 413, ""),
    ],
)
def test_bad_uploads_get_a_friendly_4xx_on_the_page(client, data, filename, status, words):
    refused = upload(client, data, filename)
    assert refused.status_code == status
    assert words in shown(refused.text, "error") and shown(refused.text, "error")
    assert shown(refused.text, "digit") == ""


def test_a_post_without_a_file_field_is_a_400(client):
    refused = client.post("/draw", data={"model": "digits"})
    assert refused.status_code == 400
    assert "Choose a picture of a digit first" in shown(refused.text, "error")


def test_an_unknown_model_falls_back_to_the_default_one(client):
    response = upload(client, example("7"), model="no-such-model")
    assert response.status_code == 200 and shown(response.text, "digit") == "7"


def test_an_upload_over_the_size_limit_is_a_413_that_says_the_limit(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("digits",), max_upload_bytes=20_000)
    refused = upload(app.test_client(), b"\x89PNG" + b"0" * 200_000)
    assert refused.status_code == 413 and "20 kB" in shown(refused.text, "error")


def test_the_feedback_form_needs_the_pages_csrf_token(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("digits",))
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    token = csrf_token(client.get("/draw").text)

    def answered(digit: str) -> str:
        picture = (io.BytesIO(example(digit)), f"{digit}.png")
        form = {"csrf_token": token, "model": "digits", "file": picture}
        page = client.post("/draw", data=form, content_type="multipart/form-data").text
        app.extensions["modelport"].recorder.flush(timeout=10)  # a person takes longer to click
        return prediction_id(page)

    with_token = answered("7")
    sent = client.post(
        f"/predictions/{with_token}/feedback", data={"correct": "yes", "csrf_token": token}
    )
    assert sent.status_code == 302
    without = answered("3")
    refused = client.post(f"/predictions/{without}/feedback", data={"correct": "yes"})
    assert refused.status_code == 400 and "reload the page" in refused.text
    store = app.extensions["modelport_store"]
    assert q.get_prediction(store, with_token).feedback is not None
    assert q.get_prediction(store, without).feedback is None
    # The refusal kept the visitor's id: the prediction is still theirs to judge.
    again = client.post(
        f"/predictions/{without}/feedback", data={"correct": "yes", "csrf_token": token}
    )
    assert again.status_code == 302
    assert q.get_prediction(store, without).feedback is not None


def test_feedback_forms_count_against_the_feedback_rate_limit(tmp_path, model_store):
    app = make_app(
        tmp_path, model_store, ("digits",), {"MODELPORT_RATE_LIMIT_FEEDBACK": "1/minute"}
    )
    client = app.test_client()
    first = prediction_id(upload(client, example("7")).text)
    second = prediction_id(upload(client, example("3")).text)
    assert client.post(f"/predictions/{first}/feedback", data={"correct": "yes"}).status_code == 302
    refused = client.post(f"/predictions/{second}/feedback", data={"correct": "yes"})
    assert refused.status_code == 429 and "Too many answers" in refused.text
    assert feedback_of(client, second) is None


def test_a_sketch_model_page_takes_a_picture_without_javascript(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("digits-knn",))
    client = app.test_client()
    assert 'id="upload-form"' in client.get("/models/digits-knn").text
    picture = (io.BytesIO(example("3")), "3.png")
    page = client.post(
        "/models/digits-knn", data={"file": picture}, content_type="multipart/form-data"
    )
    assert page.status_code == 200 and shown(page.text, "digit") == "3"
    refused = client.post("/models/digits-knn", data={}, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "Choose a picture of a digit first" in shown(refused.text, "error")
