"""Bad input gets a clear 4xx with a JSON body, never a 500."""

from __future__ import annotations

import io
import json
import os

import pytest
from conftest import data_uri, drawn_one, make_app, png_bomb, png_bytes
from PIL import Image


def blank(mode: str, colour) -> bytes:
    return png_bytes(Image.new(mode, (280, 280), colour))


def image_body(data: bytes, mime: str = "image/png", **fields) -> str:
    return json.dumps({"image": data_uri(data, mime), **fields})


TRUNCATED_PNG = drawn_one()[:200]
CASES = {
    "malformed JSON": (b'{"image": ', "application/json", 400, "invalid_json"),
    "empty body": (b"", "application/json", 400, "invalid_json"),
    "JSON array": (b"[1, 2]", "application/json", 400, "invalid_json"),
    "missing image": (b'{"picture": "x"}', "application/json", 400, "missing_image"),
    "image not a string": (b'{"image": 42}', "application/json", 400, "invalid_image"),
    "invalid base64": (b'{"image": "data:image/png;base64,@@@"}', None, 400, "invalid_base64"),
    "not base64 encoded": (b'{"image": "data:image/png,abc"}', None, 400, "invalid_data_uri"),
    "text data URI": (image_body(b"hello", "text/plain"), None, 415, "not_an_image"),
    "data URI of a non-image": (image_body(b"%PDF-1.4 x"), None, 415, "unsupported_format"),
    "truncated PNG": (image_body(TRUNCATED_PNG), None, 422, "corrupt_image"),
    "decompression bomb": (image_body(png_bomb()), None, 413, "too_many_pixels"),
    "transparent canvas": (image_body(blank("RGBA", (0, 0, 0, 0))), None, 422, "empty_drawing"),
    "white empty canvas": (image_body(blank("RGB", "white")), None, 422, "empty_drawing"),
    "unknown model": (image_body(drawn_one(), model="nope"), None, 404, "unknown_model"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_classic_route_refuses_bad_input_clearly(client, case):
    body, content_type, status, code = CASES[case]
    body = body.encode() if isinstance(body, str) else body
    response = client.post(
        "/api/predict", data=body, content_type=content_type or "application/json"
    )
    assert response.status_code == status
    answer = response.get_json()
    assert answer["error"] == code
    assert isinstance(answer["detail"], str) and len(answer["detail"]) > 10
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        (b"just some text", "text/plain", 415, "unsupported_format"),
        (b"", "image/png", 400, "missing_image"),
        (TRUNCATED_PNG, "image/png", 422, "corrupt_image"),
        (png_bomb(), "image/png", 413, "too_many_pixels"),
    ],
    ids=["text file", "no bytes", "truncated", "bomb"],
)
def test_v1_route_refuses_bad_files(client, data, content_type, status, code):
    response = client.post("/api/v1/models/digits/predict", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_v1_refuses_a_form_without_file_and_a_bad_top_k(client):
    no_file = client.post("/api/v1/models/digits/predict", data={"x": "1"})
    assert no_file.status_code == 400 and no_file.get_json()["error"] == "missing_file"
    for top_k in ("0", "21", "many"):
        bad = client.post(
            f"/api/v1/models/digits/predict?top_k={top_k}",
            data=drawn_one(),
            content_type="image/png",
        )
        assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_top_k"


def test_unknown_model_on_v1_routes_is_404(client):
    for response in (
        client.get("/api/v1/models/nope"),
        client.post("/api/v1/models/nope/predict", data=drawn_one(), content_type="image/png"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "unknown_model"


def test_wrong_method_and_unknown_api_route_are_json(client):
    assert client.get("/api/predict").get_json()["error"] == "method_not_allowed"
    assert client.get("/api/nothing").get_json()["error"] == "not_found"


@pytest.fixture(scope="module")
def small_limit_client(tmp_path_factory, model_store):
    limits = {"max_upload_bytes": 50_000, "max_image_pixels": 1_000_000}
    folder = tmp_path_factory.mktemp("small-limit")
    return make_app(folder, model_store, ("digits-knn",), **limits).test_client()


def test_bodies_over_the_limit_get_413(small_limit_client):
    huge = b"x" * 200_000
    response = small_limit_client.post("/api/predict", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"


def test_images_over_the_byte_and_pixel_limits_get_413(small_limit_client):
    noisy = Image.frombytes("L", (240, 240), os.urandom(240 * 240))
    big_file = png_bytes(noisy)
    assert 50_000 < len(big_file) < 66_000
    response = small_limit_client.post("/api/predict", json={"image": data_uri(big_file)})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    wide = png_bytes(Image.new("L", (2000, 600)))
    response = small_limit_client.post("/api/predict", json={"image": data_uri(wide)})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_many_pixels"


def test_pages_show_a_friendly_message_not_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is nothing at this address." in response.get_data(as_text=True)


def test_an_upload_field_that_is_not_json_is_refused(client):
    response = client.post(
        "/api/predict",
        data={"file": (io.BytesIO(b"x"), "a.png")},
        content_type="multipart/form-data",
    )
    # The classic route reads JSON only: a form could come from another site's page.
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
