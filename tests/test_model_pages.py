"""Every model's own page (``/models/<name>``): try it above its card, for models written into
the store by hand at test time (scikit-learn pipelines saved with skops, a tiny torch model
in ONNX) as well as a built-in one; the answer, its history and its feedback."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from conftest import make_app
from model_factories import colours_model, iris_model, penguins_model, solid_png

NAMES = ("iris", "penguins", "penguins-plus", "colours", "digits")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-models")
    built = {
        "iris": iris_model(root),
        "penguins": penguins_model(root),
        # Offers an island its encoder never saw: the model itself refuses such a row.
        "penguins-plus": penguins_model(root, "penguins-plus", unseen_choice="Anvers"),
    }
    colours_model(root)
    return root, built


@pytest.fixture(scope="module")
def app(tmp_path_factory, store):
    return make_app(tmp_path_factory.mktemp("own-instance"), store[0], NAMES)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def iris(store):
    return store[1]["iris"]


@pytest.fixture(scope="module")
def penguins(store):
    return store[1]["penguins"]


def flush(app) -> None:
    assert app.extensions["modelport"].recorder.flush(timeout=10)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def page_labels(response) -> list[str]:
    found = re.findall(r'data-testid="class-label">([^<]+)<', text_of(response))
    return [html.unescape(label) for label in found]


def page_error(response) -> str:
    match = re.search(r'data-testid="error">([^<]*)<', text_of(response))
    return html.unescape(match.group(1)).strip() if match else ""


def prediction_id(response) -> str:
    return re.search(r'id="result"[^>]*data-prediction-id="([0-9a-f]+)"', text_of(response))[1]


def form_of(row: dict) -> dict[str, str]:
    """A row as a browser posts the form: every value as text."""
    return {
        name: f"{value:g}" if isinstance(value, float) else value for name, value in row.items()
    }


def test_a_tabular_model_gets_a_form_with_one_field_per_feature_above_its_card(client):
    page = text_of(client.get("/models/penguins"))
    assert page.index('id="try"') < page.index('id="card"') < page.index('id="live-accuracy"')
    form = re.search(r'<form id="tabular-form"[^>]*>', page, re.S)[0]
    assert 'method="post"' in form and 'action="/models/penguins"' in form
    assert 'data-endpoint="/api/v1/models/penguins/predict' in form
    labels = json.loads(html.unescape(re.search(r'data-labels="([^"]+)"', form)[1]))
    assert labels == ["Adelie", "Chinstrap", "Gentoo"]
    numbers = re.findall(r'<input[^>]+type="number"[^>]*>', page, re.S)
    assert len(numbers) == 3
    bill = next(field for field in numbers if 'name="bill length (mm)"' in field)
    assert 'min="30.0"' in bill and 'max="60.0"' in bill and 'step="any"' in bill
    selects = re.findall(r'<select[^>]+name="([^"]+)"[^>]*>(.*?)</select>', page, re.S)
    assert [name for name, _ in selects] == ["island", "sex"]
    island_options = re.findall(r'<option value="([^"]+)"', selects[0][1])
    assert island_options == ["Biscoe", "Dream", "Torgersen"]
    assert "js/photo.js" in page and "js/feedback.js" in page
    # The card says what the model takes, feature by feature.
    facts = re.search(r'<dl class="row mb-0" id="model-facts">(.*?)</dl>', page, re.S)[1]
    assert "a table row of 5 features, 3 classes" in facts
    assert "a number from 2700 to 6300" in facts and "one of Biscoe, Dream, Torgersen" in facts
    assert "97" in re.search(r'id="validation-accuracy">(.*?)</dd>', page, re.S)[1]


def test_a_photo_model_gets_an_upload_and_a_sketch_model_the_canvas(client):
    photo = text_of(client.get("/models/colours"))
    form = re.search(r'<form id="photo-form"[^>]*>', photo, re.S)[0]
    assert 'action="/models/colours"' in form and 'enctype="multipart/form-data"' in form
    assert 'data-endpoint="/api/v1/models/colours/predict?top_k=3"' in form
    assert re.search(r'<input[^>]+type="file"[^>]+accept="[^"]*image/png', photo)
    assert photo.index('id="try"') < photo.index('id="card"')
    assert 'id="model-input">a photo, 3 classes' in photo and "js/photo.js" in photo

    sketch = text_of(client.get("/models/digits"))
    area = re.search(r'<div class="row g-4" id="draw-app"[^>]*>', sketch, re.S)[0]
    assert 'data-endpoint="/api/predict"' in area and 'data-model="digits"' in area
    assert '<canvas id="pad"' in sketch and "js/draw.js" in sketch
    assert 'id="model-input">a drawing, 10 classes' in sketch
    assert sketch.index('id="try"') < sketch.index('id="card"')
    assert client.get("/models/nope").status_code == 404


def test_the_index_links_every_model_to_its_page_and_says_what_it_takes(client):
    page = text_of(client.get("/"))
    for name in NAMES:
        assert f'href="/models/{name}"' in page
    kinds = re.findall(r'data-testid="input-kind">([^<]+)<', page)
    assert "a table row (4 features)" in kinds and "a photo" in kinds and "a drawing" in kinds
    assert page.count(">Try it</a>") == len(NAMES)
    assert 'href="/draw?model=digits"' in page  # the built-in keeps its own page too


@pytest.mark.parametrize("model, index", [("penguins", 0), ("penguins", 7), ("iris", 120)])
def test_the_form_posted_without_javascript_is_answered_on_the_page(client, store, model, index):
    built = store[1][model]
    row = built.row(index)
    response = client.post(f"/models/{model}", data=form_of(row))
    assert response.status_code == 200, page_error(response)
    labels = page_labels(response)
    assert labels[0] == built.predict(row)  # what the scikit-learn pipeline itself says
    assert sorted(labels) == sorted(built.estimator.classes_)
    bars = re.search(r'<ol id="bars".*?</ol>', text_of(response), re.S)[0]
    percents = re.findall(r'class="bar-percent[^"]*"[^>]*>([\d.]+)%<', bars)
    assert len(percents) == 3 and 99 <= sum(map(float, percents)) <= 101
    assert prediction_id(response)
    first = next(iter(row))  # the form keeps what was typed, to change and send again
    assert re.search(
        rf'name="{re.escape(first)}"[^>]*value="{form_of(row)[first]}"', text_of(response)
    )


BAD_ROWS = {
    "not a number": ({"bill length (mm)": "long"}, "bill length (mm)", "must be a number"),
    "above the max": ({"body mass (g)": "90000"}, "body mass (g)", "at most 6300"),
    "below the min": ({"flipper length (mm)": "-3"}, "flipper length (mm)", "at least 170"),
    "left empty": ({"sex": ""}, "sex", "missing"),
    "not a choice": ({"island": "Mars"}, "island", "must be one of"),
    "nan": ({"bill length (mm)": "nan"}, "bill length (mm)", "must be a number"),
    "infinite": ({"bill length (mm)": "1e999"}, "bill length (mm)", "must be a number"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_bad_values_get_a_friendly_page_naming_the_feature(client, penguins, case):
    change, feature, words = BAD_ROWS[case]
    response = client.post("/models/penguins", data=form_of(penguins.row(0)) | change)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    message = page_error(response)
    assert repr(feature) in message and words in message
    page = text_of(response)
    assert "Traceback" not in page and 'id="tabular-form"' in page and not page_labels(response)
    marked = re.search(rf'<(input|select)[^>]*name="{re.escape(feature)}"[^>]*>', page, re.S)[0]
    assert "is-invalid" in marked


def test_a_row_the_model_itself_refuses_is_a_4xx_too(client, store):
    row = form_of(store[1]["penguins-plus"].row(0)) | {"island": "Anvers"}
    page = client.post("/models/penguins-plus", data=row)
    assert page.status_code == 422 and "Anvers" in page_error(page)
    row = store[1]["penguins-plus"].row(0) | {"island": "Anvers"}
    api = client.post("/api/v1/models/penguins-plus/predict", json={"inputs": row})
    assert api.status_code == 422 and api.get_json()["error"] == "unusable_inputs"
    assert "Anvers" in api.get_json()["detail"]


def test_other_bad_posts_are_friendly_4xx_pages(client, tmp_path, store):
    missing = client.post("/models/colours", data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose a photo" in page_error(missing)
    pdf = {"file": (io.BytesIO(b"%PDF-1.7\n"), "notes.pdf")}
    refused = client.post("/models/colours", data=pdf, content_type="multipart/form-data")
    assert refused.status_code == 415 and "notes.pdf" in page_error(refused)
    drawing = client.post("/models/digits", data={})
    assert drawing.status_code == 400 and "picture of a digit" in page_error(drawing)
    small = make_app(tmp_path, store[0], ("penguins",), max_upload_bytes=1000).test_client()
    huge = small.post("/models/penguins", data={"island": "x" * 200_000})
    assert huge.status_code == 413 and "too large" in page_error(huge)
    assert 'id="tabular-form"' in text_of(huge)


def test_a_photo_posted_to_its_models_page_is_answered(client):
    upload = {"file": (io.BytesIO(solid_png((20, 190, 40))), "leaf.png")}
    response = client.post("/models/colours", data=upload, content_type="multipart/form-data")
    assert response.status_code == 200, page_error(response)
    assert page_labels(response)[0] == "green"
    assert re.search(r'id="preview"[^>]*src="data:image/jpeg;base64,', text_of(response))
    assert "leaf.png" in text_of(response)


def test_the_api_answers_rows_as_the_pipeline_does(client, iris, penguins):
    row = penguins.row(3)
    answer = client.post("/api/v1/models/penguins/predict", json={"inputs": row}).get_json()
    assert answer["model"] == "penguins" and answer["version"] == "2.1"
    assert answer["predictions"][0]["label"] == penguins.predict(row)
    rows = [iris.row(i) for i in (0, 60, 140)]
    batch = client.post("/api/v1/models/iris/predict", json={"inputs": rows}).get_json()
    assert [r["predictions"][0]["label"] for r in batch["results"]] == [
        iris.predict(r) for r in rows
    ]
    bad = client.post("/api/v1/models/penguins/predict", json={"inputs": row | {"sex": "x"}})
    assert bad.status_code == 422 and "'sex'" in bad.get_json()["detail"]
    red = client.post("/api/v1/models/colours/predict", data=solid_png((230, 20, 10)))
    assert red.get_json()["predictions"][0]["label"] == "red"


def test_the_history_shows_a_tabular_row_as_a_small_table(app, client, penguins):
    row = penguins.row(11)
    made = client.post("/api/v1/models/penguins/predict", json={"inputs": row}).get_json()
    photo = client.post("/api/v1/models/colours/predict", data=solid_png((0, 0, 255))).get_json()
    flush(app)
    listed = client.get("/api/v1/predictions?per_page=100").get_json()["predictions"]
    mine = next(p for p in listed if p["id"] == made["id"])
    assert mine["input_kind"] == "tabular" and mine["inputs"] == row
    assert "inputs" not in next(p for p in listed if p["id"] == photo["id"])

    page = text_of(client.get("/history?per_page=100"))
    cell = re.search(rf'<tr data-prediction-id="{made["id"]}">\s*<td>(.*?)</td>\s*<td>', page, re.S)
    assert 'class="table table-sm table-borderless small mb-0 history-inputs"' in cell[1]
    assert "<img" not in cell[1]
    pairs = re.findall(r"<th scope=\"row\">([^<]+)</th><td>([^<]+)</td>", cell[1])
    assert dict(pairs) == {name: f"{value:g}" if isinstance(value, float) else value
                           for name, value in row.items()}  # fmt: skip
    assert re.search(rf'data-prediction-id="{photo["id"]}">\s*<td>\s*<img', page)
    stored = client.get(f"/api/v1/predictions/{made['id']}/input")
    assert stored.mimetype == "application/json" and stored.get_json() == row


def test_feedback_uses_the_models_labels_and_shows_on_its_card(app, client, iris):
    card = text_of(client.get("/models/iris"))
    assert "no feedback yet" in card and 'id="confusion-empty"' in card
    right = client.post("/models/iris", data=form_of(iris.row(0)))
    wrong = client.post("/models/iris", data=form_of(iris.row(100)))
    said = page_labels(wrong)[0]
    other = next(label for label in ("setosa", "versicolor", "virginica") if label != said)
    flush(app)
    feedback = f"/api/v1/predictions/{prediction_id(right)}/feedback"
    answer = client.post(feedback, json={"label": page_labels(right)[0]}).get_json()
    assert answer["is_correct"] is True and answer["learned"] is False
    unknown = client.post(feedback, json={"label": "daisy"})
    assert unknown.status_code == 422 and unknown.get_json()["error"] == "unknown_label"
    corrected = f"/api/v1/predictions/{prediction_id(wrong)}/feedback"
    answer = client.post(corrected, json={"label": other}).get_json()
    assert answer["is_correct"] is False and answer["label"] == other

    card = text_of(client.get("/models/iris"))
    live = re.search(r'id="live-accuracy">(.*?)</dd>', card, re.S)[1]
    assert "50.0%" in live and "1 right of 2 judged" in live
    assert 'id="confusion-matrix"' in card
    picture = client.get("/models/iris/confusion.png")
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    listed = client.get("/api/v1/predictions?model=iris&corrected=true").get_json()
    assert [p["feedback"]["label"] for p in listed["predictions"]] == [other]
