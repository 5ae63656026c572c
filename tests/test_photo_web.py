"""The photo classifier through the test client: the API, the no-JavaScript page, the chart."""

from __future__ import annotations

import base64
import io
import re

import pytest
from conftest import data_uri, make_app, png_bomb
from photo_samples import (
    CAT_CLASSES,
    COFFEE_CLASSES,
    animated,
    chelsea,
    chelsea_jpeg,
    cmyk_jpeg,
    coffee_jpeg,
    encode,
    palette_png_with_transparency,
    png16,
    truncated_jpeg,
)
from PIL import Image

PREDICT = "/api/v1/models/efficientnet-lite0/predict"
CHART = "/api/v1/models/efficientnet-lite0/chart.png"


@pytest.fixture(scope="module")
def photo_app(tmp_path_factory, model_store):
    return make_app(tmp_path_factory.mktemp("photo-instance"), model_store, ("efficientnet-lite0",))


@pytest.fixture
def photo(photo_app):
    return photo_app.test_client()


def upload(client, url: str, data: bytes, filename: str = "photo.jpg", **form):
    form["file"] = (io.BytesIO(data), filename)
    return client.post(url, data=form, content_type="multipart/form-data")


def page_labels(response) -> list[str]:
    return re.findall(r'data-testid="class-label">([^<]+)<', response.get_data(as_text=True))


def page_error(response) -> str:
    match = re.search(r'data-testid="error">([^<]*)<', response.get_data(as_text=True))
    return match.group(1).strip() if match else ""


# Valid but unusual files: each must be classified, and correctly (the cat is a cat).
VALID = {
    "animated GIF (first frame: the cat)": lambda: animated("GIF"),
    "animated WebP (first frame: the cat)": lambda: animated("WEBP"),
    "CMYK JPEG": cmyk_jpeg,
    "16-bit greyscale PNG": png16,
    "palette PNG with transparency": palette_png_with_transparency,
    "BMP": lambda: encode(chelsea(), "BMP"),
    "lossless WebP": lambda: encode(chelsea(), "WEBP", lossless=True),
}
# Bad files: each a clear 4xx with a code, never a 500.
BAD = {
    "PDF": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "a.pdf", 415, "unsupported_format"),
    "text renamed .jpg": (b"not a photo at all\n" * 10, "cat.jpg", 415, "unsupported_format"),
    "truncated JPEG": (truncated_jpeg(), "cut.jpg", 422, "corrupt_image"),
    "0-byte file": (b"", "empty.png", 400, None),
    "20000x20000 PNG bomb": (png_bomb(), "bomb.png", 413, "too_many_pixels"),
}  # fmt: skip


@pytest.mark.parametrize("how", ["multipart", "data URI", "raw bytes"])
def test_the_api_classifies_a_photo_sent_every_way(photo, how):
    if how == "multipart":
        response = upload(photo, PREDICT, chelsea_jpeg())
    elif how == "data URI":
        response = photo.post(PREDICT, json={"image": data_uri(chelsea_jpeg(), "image/jpeg")})
    else:
        response = photo.post(PREDICT, data=chelsea_jpeg(), content_type="image/jpeg")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["model"] == "efficientnet-lite0"
    assert len(answer["predictions"]) == 5  # the default for photo models
    assert answer["predictions"][0]["label"] in CAT_CLASSES
    scores = [p["score"] for p in answer["predictions"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001


def test_top_k_goes_from_1_to_20(photo):
    assert len(upload(photo, PREDICT + "?top_k=20", coffee_jpeg()).get_json()["predictions"]) == 20
    answer = upload(photo, PREDICT, coffee_jpeg(), top_k="2").get_json()
    assert len(answer["predictions"]) == 2
    assert COFFEE_CLASSES & {p["label"] for p in answer["predictions"]}
    for bad in ("0", "21", "five"):
        response = upload(photo, PREDICT + f"?top_k={bad}", coffee_jpeg())
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_top_k"


@pytest.mark.parametrize("case", list(VALID), ids=list(VALID))
def test_unusual_valid_files_are_classified_by_the_api(photo, case):
    response = upload(photo, PREDICT, VALID[case](), filename="upload.bin")
    assert response.status_code == 200, response.get_data(as_text=True)
    labels = [p["label"] for p in response.get_json()["predictions"]]
    assert set(labels[:2]) & CAT_CLASSES, labels


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_files_get_a_clear_4xx_from_the_api(photo, case):
    data, filename, status, code = BAD[case]
    response = upload(photo, PREDICT, data, filename)
    assert response.status_code == status
    answer = response.get_json()
    assert code is None or answer["error"] == code
    assert len(answer["detail"]) > 10


def test_the_page_offers_a_form_that_works_without_javascript(photo):
    response = photo.get("/photo")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    form = re.search(r"<form[^>]*id=\"photo-form\"[^>]*>", html, re.S).group(0)
    assert 'method="post"' in form and 'enctype="multipart/form-data"' in form
    assert re.search(r'<input[^>]+type="file"[^>]+accept="[^"]*image/jpeg', html)
    assert 'id="bar-template"' in html and "js/photo.js" in html


def test_posting_the_form_renders_the_photo_and_the_top_five(photo):
    response = upload(photo, "/photo", chelsea_jpeg(), "chelsea.jpg")
    assert response.status_code == 200
    labels = page_labels(response)
    assert len(labels) == 5 and labels[0] in CAT_CLASSES
    html = response.get_data(as_text=True)
    assert re.search(r'class="progress-bar bar-w-\d+', html)  # widths as classes (CSP)
    shown = re.search(r'id="preview"[^>]*src="data:image/jpeg;base64,([^"]+)"', html).group(1)
    thumbnail = Image.open(io.BytesIO(base64.b64decode(shown)))
    assert thumbnail.size == (451, 300) and "chelsea.jpg" in html


def test_a_12_megapixel_photo_is_shown_small(photo):
    big = chelsea().resize((4000, 3000))
    response = upload(photo, "/photo", encode(big, "JPEG", quality=85), "big.jpg")
    assert page_labels(response)[0] in CAT_CLASSES
    shown = re.search(r'src="data:image/jpeg;base64,([^"]+)"', response.get_data(as_text=True))
    assert max(Image.open(io.BytesIO(base64.b64decode(shown.group(1)))).size) <= 640


@pytest.mark.parametrize("case", list(VALID), ids=list(VALID))
def test_unusual_valid_files_are_classified_on_the_page(photo, case):
    response = upload(photo, "/photo", VALID[case](), filename="upload.png")
    assert response.status_code == 200, page_error(response)
    assert set(page_labels(response)[:2]) & CAT_CLASSES


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_files_get_a_friendly_message_on_the_page(photo, case):
    data, filename, status, _ = BAD[case]
    response = upload(photo, "/photo", data, filename)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    message = page_error(response)
    assert len(message) > 10 and "Traceback" not in response.get_data(as_text=True)
    assert 'id="photo-form"' in response.get_data(as_text=True)  # they can try again at once
    assert not page_labels(response)


def test_the_file_name_is_only_a_hint(photo):
    assert upload(photo, "/photo", chelsea_jpeg(), "scan.dat").status_code == 200
    refused = upload(photo, "/photo", BAD["PDF"][0], "report.pdf")
    assert refused.status_code == 415 and "report.pdf" in page_error(refused)
    renamed = upload(photo, "/photo", BAD["text renamed .jpg"][0], "cat.jpg")
    assert renamed.status_code == 415 and "cat.jpg" in page_error(renamed)


def test_posting_the_form_without_a_file_asks_for_one(photo):
    response = photo.post("/photo", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a photo" in page_error(response)


def test_uploads_over_the_limit_get_413(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("efficientnet-lite0",), max_upload_bytes=20_000)
    client = app.test_client()
    big = chelsea_jpeg()  # 38 kB: over the file limit, under the request limit
    response = upload(client, PREDICT, big)
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    page = upload(client, "/photo", big)
    assert page.status_code == 413 and "limit" in page_error(page)
    huge = b"\xff\xd8\xff" + bytes(200_000)  # over the request limit itself
    assert upload(client, PREDICT, huge).status_code == 413
    page = upload(client, "/photo", huge)
    assert page.status_code == 413 and "20 kB" in page_error(page)


def test_the_chart_endpoint_draws_given_scores(photo):
    query = "label=tabby&score=0.62&label=tiger%20cat&score=0.2&label=lynx&score=0.01&title=cat"
    response = photo.get(f"/api/v1/predictions/chart.png?{query}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    chart = Image.open(io.BytesIO(response.data))
    assert chart.format == "PNG" and chart.width == 720 and 150 < chart.height < 300


@pytest.mark.parametrize(
    "query",
    [
        "",
        "label=a",
        "label=a&score=2",
        "label=a&score=nan",
        "label=a&score=x",
        "label=&score=0.5",
        "&".join(["label=a&score=0.01"] * 21),
    ],
    ids=["nothing", "no score", "over 1", "nan", "not a number", "empty label", "21 bars"],
)
def test_the_chart_endpoint_refuses_bad_parameters(photo, query):
    response = photo.get(f"/api/v1/predictions/chart.png?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] in {"missing_bars", "invalid_bars"}


def test_posting_a_photo_to_the_chart_endpoint_returns_its_chart(photo):
    response = upload(photo, CHART + "?top_k=8", chelsea_jpeg())
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["X-Prediction-Id"]
    tall = Image.open(io.BytesIO(response.data)).height
    five = Image.open(io.BytesIO(upload(photo, CHART, chelsea_jpeg()).data)).height
    assert tall > five  # eight bars take more room than the default five
    bad = upload(photo, CHART, b"%PDF-1.7", "x.pdf")
    assert bad.status_code == 415 and bad.get_json()["error"] == "unsupported_format"


def test_without_a_photo_model_the_page_says_so(tmp_path, model_store):
    client = make_app(tmp_path, model_store, ("digits-knn",)).test_client()
    page = client.get("/photo")
    assert page.status_code == 503 and "not loaded" in page_error(page)
    assert upload(client, "/photo", chelsea_jpeg()).status_code == 503
