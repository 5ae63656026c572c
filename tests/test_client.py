"""``modelport.Client`` against the real server: pictures in every form, table rows,
feedback, and the server's errors as ``ModelportError``."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from conftest import cli_token, drawn_one, free_port, make_app
from model_factories import penguins_model
from photo_samples import CAT_CLASSES, chelsea, chelsea_jpeg
from PIL import Image
from werkzeug.serving import make_server

import modelport
from modelport import Client, ModelportError
from modelport.client import FeedbackResult, ModelSummary, Prediction, PredictionResult


@pytest.fixture(scope="module")
def client(live_server) -> Client:
    return Client(live_server.url)


def test_client_is_exported_from_the_package():
    assert modelport.Client is Client
    assert "Client" in modelport.__all__
    with pytest.raises(AttributeError):
        modelport.NoSuchThing  # noqa: B018


def test_models_lists_what_the_server_serves(client):
    models = {m.name: m for m in client.models()}
    assert {"digits", "digits-knn", "efficientnet-lite0"} <= set(models)
    digits = models["digits"]
    assert isinstance(digits, ModelSummary)
    assert digits.input_kind == "sketch"
    assert digits.label_count == 10
    assert digits.version
    assert models["efficientnet-lite0"].input_kind == "photo"
    assert models["efficientnet-lite0"].label_count == 1000
    assert client.labels("digits") == [str(d) for d in range(10)]


def drawn_one_grey() -> np.ndarray:
    """A black '1' on white, as a (H, W) uint8 array."""
    drawing = Image.open(io.BytesIO(drawn_one(background=(255, 255, 255, 255))))
    return np.asarray(drawing.convert("L"))


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(lambda tmp: drawn_one(), id="bytes"),
        pytest.param(lambda tmp: bytearray(drawn_one()), id="bytearray"),
        pytest.param(lambda tmp: _file(tmp, drawn_one()), id="path"),
        pytest.param(lambda tmp: str(_file(tmp, drawn_one())), id="path-string"),
        pytest.param(lambda tmp: io.BytesIO(drawn_one()), id="file"),
        pytest.param(lambda tmp: Image.open(io.BytesIO(drawn_one())), id="pil"),
        pytest.param(lambda tmp: np.asarray(Image.open(io.BytesIO(drawn_one()))), id="rgba-array"),
        pytest.param(lambda tmp: drawn_one_grey(), id="grey-array"),
        pytest.param(lambda tmp: drawn_one_grey()[:, :, None], id="grey-array-1-channel"),
    ],
)
def test_predict_takes_a_picture_in_any_form(client, tmp_path, picture):
    result = client.predict("digits", picture(tmp_path))
    assert isinstance(result, PredictionResult)
    assert result.best == result.predictions[0]
    assert result.label == "1"
    assert result.model == "digits"
    assert result.version
    assert result.id
    assert result.latency_ms > 0
    assert all(isinstance(p, Prediction) for p in result.predictions)


def _file(tmp_path, data: bytes):
    path = tmp_path / "picture.png"
    path.write_bytes(data)
    return path


def test_predict_a_photo_with_top_k(client):
    from_array = client.predict("efficientnet-lite0", np.asarray(chelsea()), top_k=3)
    assert len(from_array.predictions) == 3
    assert from_array.label in CAT_CLASSES
    scores = [p.score for p in from_array.predictions]
    assert scores == sorted(scores, reverse=True)
    from_jpeg = client.predict("efficientnet-lite0", chelsea_jpeg(), top_k=1)
    assert [p.label for p in from_jpeg.predictions] == [from_jpeg.label]
    assert from_jpeg.label in CAT_CLASSES


def test_feedback_on_a_prediction(client):
    result = client.predict("digits", drawn_one())
    answer = client.feedback(result.id, "1")
    assert answer == FeedbackResult(
        id=result.id, model="digits", predicted="1", label="1", is_correct=True, learned=False
    )


def test_unknown_model_raises_the_servers_error(client):
    with pytest.raises(ModelportError) as raised:
        client.predict("no-such-model", drawn_one())
    error = raised.value
    assert error.status == 404
    assert error.error == "unknown_model"
    assert "no-such-model" in error.detail and "digits" in error.detail
    assert "unknown_model" in str(error)


def test_a_bad_picture_raises_the_servers_detail(client):
    with pytest.raises(ModelportError) as raised:
        client.predict("digits", b"this is not a picture")
    assert raised.value.status == 415
    assert raised.value.error == "unsupported_format"
    assert raised.value.detail == (
        "This is not a supported image: send PNG, JPEG, WebP, GIF or BMP."
    )


def test_a_row_for_a_picture_model_raises(client):
    with pytest.raises(ModelportError) as raised:
        client.predict("digits", {"pixels": 1})
    assert (raised.value.status, raised.value.error) == (400, "missing_image")
    assert "'image'" in raised.value.detail


def test_bad_top_k_and_unknown_prediction(client):
    with pytest.raises(ModelportError) as raised:
        client.predict("digits", drawn_one(), top_k=500)
    assert (raised.value.status, raised.value.error) == (400, "invalid_top_k")
    with pytest.raises(ModelportError) as raised:
        client.feedback("0" * 20, "1")
    assert (raised.value.status, raised.value.error) == (404, "unknown_prediction")


def test_what_cannot_be_sent_is_refused_before_sending(client):
    with pytest.raises(ValueError, match="uint8"):
        client.predict("digits", np.zeros((28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="height, width"):
        client.predict("digits", np.zeros((2, 28, 28, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="picture"):
        client.predict("digits", 42)
    with pytest.raises(ValueError, match="http"):
        Client("localhost:5000")


def test_a_token_is_sent_as_a_bearer(live_server):
    token = cli_token(live_server.instance_path, "operator", "client-test")
    client = Client(live_server.url, token=token)
    made = client.predict("digits", drawn_one())
    assert client.feedback(made.id, "1").is_correct
    with pytest.raises(ModelportError) as raised:
        Client(live_server.url, token="not-a-token").models()
    assert (raised.value.status, raised.value.error) == (401, "invalid_token")


def test_a_server_that_does_not_answer():
    client = Client(f"http://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(ModelportError) as raised:
        client.models()
    assert raised.value.status is None
    assert raised.value.error == "unreachable"


@pytest.fixture(scope="module")
def tabular_server(tmp_path_factory):
    """A tabular model behind a real HTTP server of its own (the live server has none)."""
    root = tmp_path_factory.mktemp("client-tabular")
    model = penguins_model(root / "store")
    app = make_app(root / "instance", root / "store", ("penguins",))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", model
    server.shutdown()
    thread.join(timeout=10)


def test_predict_a_table_row(tabular_server):
    url, model = tabular_server
    client = Client(url)
    (summary,) = client.models()
    assert summary.input_kind == "tabular"
    assert [f["name"] for f in summary.features][:2] == ["bill length (mm)", "flipper length (mm)"]
    row = model.row(0)
    result = client.predict("penguins", row, top_k=2)
    assert result.label == model.predict(row)
    assert len(result.predictions) == 2
    with pytest.raises(ModelportError) as raised:
        client.predict("penguins", row | {"island": "Atlantis"})
    assert raised.value.status == 422
    assert "island" in raised.value.detail
    with pytest.raises(ModelportError) as raised:
        client.predict("penguins", drawn_one())
    assert raised.value.status == 415  # a picture for a model that takes a row
    assert raised.value.detail
