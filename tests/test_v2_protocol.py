"""The V2 Open Inference Protocol (KServe, Triton, MLServer) beside /api/v1: Triton's own
Python client (``tritonclient[http]``) against the real server, and the raw JSON and binary
forms, errors included."""

from __future__ import annotations

import base64
import json
import struct
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import numpy as np
import pytest
import tritonclient.http as triton
from conftest import drawn_one, make_app
from model_factories import penguins_model
from photo_samples import CAT_CLASSES, COFFEE_CLASSES, chelsea_jpeg, coffee_jpeg
from tritonclient.utils import InferenceServerException

from modelport.inputs import adapters
from modelport.inputs.decode import Limits
from modelport.models.settings import read_settings
from modelport.models.store import BUNDLED

HEADER = "Inference-Header-Content-Length"
BINARY = "application/octet-stream"
DIGITS = [
    drawn_one(),
    drawn_one(size=(560, 560), width=30),
    drawn_one(size=(320, 240)),
    drawn_one(size=(200, 200), background=(255, 255, 255, 255), ink=(20, 40, 200, 255)),
]
ONE = {"1"}
SAMPLES = {
    "digits": [(png, ONE) for png in DIGITS],
    "efficientnet-lite0": [
        (chelsea_jpeg(), CAT_CLASSES),
        (coffee_jpeg(), COFFEE_CLASSES),
        (chelsea_jpeg(), CAT_CLASSES),
        (coffee_jpeg(), COFFEE_CLASSES),
    ],
}
PICTURE_MODELS = list(SAMPLES)


@pytest.fixture(scope="module")
def triton_client(live_server):
    client = triton.InferenceServerClient(url=live_server.url.removeprefix("http://"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def labels(live_server):
    """Each model's labels, as /api/v1 lists them."""
    found = {}
    for model in ("digits", "digits-knn", "efficientnet-lite0"):
        found[model] = request(live_server, "GET", f"/api/v1/models/{model}")[2]["labels"]
    return found


def request(server, method, path, body=None, headers=None, opener=None):
    """(status, headers, JSON answer or raw bytes) of a real HTTP request."""
    req = urllib.request.Request(server.url + path, body, headers or {}, method=method)
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=60) as response:
            status, answer_headers, data = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, answer_headers, data = exc.code, exc.headers, exc.read()
    if answer_headers.get_content_type() == "application/json":
        return status, answer_headers, json.loads(data)
    return status, answer_headers, data


def post_json(server, path, body, opener=None):
    data = json.dumps(body).encode()
    return request(server, "POST", path, data, {"Content-Type": "application/json"}, opener)


def v1_scores(server, model, picture) -> dict[str, float]:
    mime = "image/jpeg" if picture.startswith(b"\xff\xd8") else "image/png"
    status, _, answer = request(
        server,
        "POST",
        f"/api/v1/models/{model}/predict?top_k=20",
        picture,
        {"Content-Type": mime},
    )
    assert status == 200, answer
    return {p["label"]: p["score"] for p in answer["predictions"]}


def assert_same_as_v1(server, model, pictures, probabilities, model_labels):
    """The V2 answer is /api/v1's (its 20 best classes, within 1e-5), and the top class is
    one of the expected ones."""
    assert probabilities.shape == (len(pictures), len(model_labels))
    assert probabilities.dtype == np.float32
    for (picture, expected), row in zip(pictures, probabilities, strict=True):
        assert model_labels[int(np.argmax(row))] in expected
        assert float(row.sum()) == pytest.approx(1.0, abs=1e-3)
        for label, score in v1_scores(server, model, picture).items():
            assert float(row[model_labels.index(label)]) == pytest.approx(score, abs=1e-5)


def prepared(model: str, picture: bytes) -> np.ndarray:
    """The FP32 input the model takes, made on this side as the server makes it."""
    settings = read_settings(BUNDLED / model)
    image = adapters.decode_picture(settings.kind, picture, Limits(), settings.preprocess)
    if settings.kind == "photo":
        return adapters.photo_input(image, settings.preprocess)
    return adapters.sketch_input(image, settings.preprocess)


def binary_image(size: int) -> dict:
    """An ``image`` BYTES input of one element whose ``size`` bytes follow the JSON header."""
    return {
        "name": "image",
        "datatype": "BYTES",
        "shape": [1],
        "parameters": {"binary_data_size": size},
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Health and metadata through tritonclient.


def test_server_health_and_metadata(triton_client):
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    metadata = triton_client.get_server_metadata()
    assert metadata["name"] == "modelport"
    assert metadata["version"]
    assert "classification" in metadata["extensions"]
    assert "binary_tensor_data" in metadata["extensions"]


@pytest.mark.parametrize(
    ("model", "platform", "input_shape", "classes"),
    [
        ("digits", "onnxruntime_onnx", [-1, 1, 28, 28], 10),
        ("digits-knn", "python", [-1, 8, 8], 10),
        ("efficientnet-lite0", "onnxruntime_onnx", [-1, 3, 224, 224], 1000),
    ],
)
def test_model_metadata_and_readiness(triton_client, model, platform, input_shape, classes):
    metadata = triton_client.get_model_metadata(model)
    assert metadata["name"] == model
    assert metadata["platform"] == platform
    assert metadata["inputs"] == [
        {"name": "image", "datatype": "BYTES", "shape": [-1]},
        {"name": "input", "datatype": "FP32", "shape": input_shape},
    ]
    assert metadata["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, classes]}
    ]
    (version,) = metadata["versions"]
    assert triton_client.get_model_metadata(model, version) == metadata
    assert triton_client.is_model_ready(model)
    assert triton_client.is_model_ready(model, version)
    assert not triton_client.is_model_ready(model, "no-such-version")


def test_unknown_model_or_version_is_a_404(triton_client, live_server):
    assert not triton_client.is_model_ready("no-such-model")
    with pytest.raises(InferenceServerException) as raised:
        triton_client.get_model_metadata("no-such-model")
    assert raised.value.status() == "404"
    assert "no-such-model" in raised.value.message()
    for path in (
        "/v2/models/no-such-model",
        "/v2/models/no-such-model/ready",
        "/v2/models/digits/versions/0",
        "/v2/models/digits/versions/0/ready",
    ):
        status, _, answer = request(live_server, "GET", path)
        assert status == 404
        assert isinstance(answer["error"], str) and answer["error"]


# Inference through tritonclient: BYTES and FP32 inputs, batches of 1 and 4.


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("model", PICTURE_MODELS)
def test_encoded_pictures_answer_as_v1(triton_client, live_server, labels, model, batch):
    pictures = SAMPLES[model][:batch]
    image = triton.InferInput("image", [batch], "BYTES")
    image.set_data_from_numpy(np.array([p for p, _ in pictures], dtype=object))  # binary
    result = triton_client.infer(model, [image])  # outputs in binary, as tritonclient asks
    probabilities = result.as_numpy("probabilities")
    assert_same_as_v1(live_server, model, pictures, probabilities, labels[model])
    response = result.get_response()
    assert response["model_name"] == model
    assert len(response["parameters"]["prediction_ids"].split(",")) == batch


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("model", PICTURE_MODELS)
def test_prepared_tensors_answer_as_v1(triton_client, live_server, labels, model, batch, binary):
    pictures = SAMPLES[model][:batch]
    tensor = np.stack([prepared(model, p) for p, _ in pictures]).astype(np.float32)
    given = triton.InferInput("input", list(tensor.shape), "FP32")
    given.set_data_from_numpy(tensor, binary_data=binary)
    wanted = triton.InferRequestedOutput("probabilities", binary_data=binary)
    result = triton_client.infer(model, [given], outputs=[wanted])
    probabilities = result.as_numpy("probabilities")
    assert_same_as_v1(live_server, model, pictures, probabilities, labels[model])


def test_a_version_route_answers_too(triton_client, labels):
    version = triton_client.get_model_metadata("digits")["versions"][0]
    image = triton.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([DIGITS[0]], dtype=object))
    result = triton_client.infer("digits", [image], model_version=version)
    assert labels["digits"][int(np.argmax(result.as_numpy("probabilities")[0]))] == "1"
    assert result.get_response()["model_version"] == version


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_classification_extension_answers_score_index_label(triton_client, labels, binary):
    image = triton.InferInput("image", [2], "BYTES")
    image.set_data_from_numpy(np.array([DIGITS[0], DIGITS[1]], dtype=object))
    raw = triton_client.infer("digits", [image]).as_numpy("probabilities")
    wanted = triton.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)
    result = triton_client.infer("digits", [image], outputs=[wanted])
    classes = result.as_numpy("probabilities")
    assert classes.shape == (2, 3)
    for row, scores in zip(classes, raw, strict=True):
        parsed = []
        for item in row:
            text = item.decode() if isinstance(item, bytes) else item
            score, index, label = text.split(":", 2)
            assert labels["digits"][int(index)] == label
            assert float(score) == pytest.approx(float(scores[int(index)]), abs=1e-6)
            parsed.append((float(score), label))
        assert parsed[0][1] == "1"
        assert [s for s, _ in parsed] == sorted((s for s, _ in parsed), reverse=True)


def test_classification_of_a_photo_names_a_cat(triton_client):
    image = triton.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([chelsea_jpeg()], dtype=object))
    wanted = triton.InferRequestedOutput("probabilities", class_count=5)
    result = triton_client.infer("efficientnet-lite0", [image], outputs=[wanted])
    best = result.as_numpy("probabilities")[0][0].decode()
    assert best.split(":", 2)[2] in CAT_CLASSES


# The JSON and binary forms by hand.


def test_json_form_takes_base64_and_data_uris(live_server, labels):
    png = DIGITS[0]
    body = {
        "id": "my-request",
        "inputs": [
            {
                "name": "image",
                "datatype": "BYTES",
                "shape": [2],
                "data": [b64(png), "data:image/png;base64," + b64(png)],
            }
        ],
    }
    status, headers, answer = post_json(live_server, "/v2/models/digits/infer", body)
    assert status == 200, answer
    assert headers.get_content_type() == "application/json"
    assert answer["id"] == "my-request"
    assert answer["model_name"] == "digits"
    (output,) = answer["outputs"]
    assert output["name"] == "probabilities"
    assert output["datatype"] == "FP32"
    assert output["shape"] == [2, 10]
    rows = np.asarray(output["data"], dtype=np.float32).reshape(2, 10)
    assert [labels["digits"][int(i)] for i in rows.argmax(axis=1)] == ["1", "1"]


def test_binary_form_by_hand(live_server, labels):
    png = DIGITS[2]
    element = struct.pack("<I", len(png)) + png
    header = {
        "inputs": [binary_image(len(element))],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
    }
    head = json.dumps(header).encode()
    status, headers, data = request(
        live_server,
        "POST",
        "/v2/models/digits/infer",
        head + element,
        {"Content-Type": "application/octet-stream", HEADER: str(len(head))},
    )
    assert status == 200
    assert headers.get_content_type() == "application/octet-stream"
    length = int(headers[HEADER])
    answer = json.loads(data[:length])
    (output,) = answer["outputs"]
    assert output["parameters"]["binary_data_size"] == 40
    probabilities = np.frombuffer(data[length:], "<f4")
    assert labels["digits"][int(np.argmax(probabilities))] == "1"


# Errors: the protocol's {"error": ...}, 4xx, never a 500.


def tensor(name="image", datatype="BYTES", shape=(1,), data=None):
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": data}


ZEROS_784 = [0.0] * 784
BAD_REQUESTS = {
    "unknown model": ("no-such-model", {"inputs": [tensor(data=[b64(DIGITS[0])])]}, 404),
    "unknown version": ("digits/versions/0", {"inputs": [tensor(data=[b64(DIGITS[0])])]}, 404),
    "picture as FP32": ("digits", {"inputs": [tensor(datatype="FP32", data=[1.0])]}, 400),
    "tensor as BYTES": (
        "digits",
        {"inputs": [tensor("input", "BYTES", (1, 1, 28, 28), ["x"] * 784)]},
        400,
    ),
    "tensor of the wrong shape": (
        "digits",
        {"inputs": [tensor("input", "FP32", (1, 28, 28), ZEROS_784)]},
        400,
    ),
    "shape and data disagree": (
        "digits",
        {"inputs": [tensor("input", "FP32", (1, 1, 28, 28), [0.0] * 10)]},
        400,
    ),
    "text in FP32 data": (
        "digits",
        {"inputs": [tensor("input", "FP32", (1, 1, 28, 28), ["a"] * 784)]},
        400,
    ),
    "values no model can use": (
        "digits",
        {"inputs": [tensor("input", "FP32", (1, 1, 28, 28), [3e38] * 784)]},
        422,
    ),
    "unsupported datatype": ("digits", {"inputs": [tensor(datatype="INT8", data=[1])]}, 400),
    "bad base64": ("digits", {"inputs": [tensor(data=["not base64 at all!"])]}, 400),
    "a number as BYTES": ("digits", {"inputs": [tensor(data=[12])]}, 400),
    "not a picture": ("digits", {"inputs": [tensor(data=[b64(b"hello, world")])]}, 415),
    "no inputs": ("digits", {"inputs": []}, 400),
    "inputs missing": ("digits", {}, 400),
    "two inputs": (
        "digits",
        {
            "inputs": [
                tensor(data=[b64(DIGITS[0])]),
                tensor("input", "FP32", (1, 1, 28, 28), ZEROS_784),
            ]
        },
        400,
    ),
    "unknown input": ("digits", {"inputs": [tensor("pixels", data=[b64(DIGITS[0])])]}, 400),
    "negative shape": ("digits", {"inputs": [tensor(shape=(-1,), data=[b64(DIGITS[0])])]}, 400),
    "empty batch": ("digits", {"inputs": [tensor(shape=(0,), data=[])]}, 400),
    "batch too large": ("digits", {"inputs": [tensor(shape=(33,), data=["x"] * 33)]}, 400),
    "no data": ("digits", {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1]}]}, 400),
    "unknown output": (
        "digits",
        {"inputs": [tensor(data=[b64(DIGITS[0])])], "outputs": [{"name": "logits"}]},
        400,
    ),
    "classification not a number": (
        "digits",
        {
            "inputs": [tensor(data=[b64(DIGITS[0])])],
            "outputs": [{"name": "probabilities", "parameters": {"classification": "3"}}],
        },
        400,
    ),
    "binary_data_output not a bool": (
        "digits",
        {"inputs": [tensor(data=[b64(DIGITS[0])])], "parameters": {"binary_data_output": 1}},
        400,
    ),
    "id not a string": ("digits", {"id": 7, "inputs": [tensor(data=[b64(DIGITS[0])])]}, 400),
}


@pytest.mark.parametrize(("model", "body", "status"), BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_requests_are_4xx_with_an_error(live_server, model, body, status):
    got, headers, answer = post_json(live_server, f"/v2/models/{model}/infer", body)
    assert got == status, answer
    assert headers.get_content_type() == "application/json"
    assert isinstance(answer["error"], str) and answer["error"]


PAST_THE_END = json.dumps({"inputs": [binary_image(100)]}).encode()
NAN_BODY = (
    b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28], '
    b'"data": [NaN' + b", 0" * 783 + b"]}]}"
)
BAD_BODIES = {
    "not JSON": (b"{", {"Content-Type": "application/json"}, 400),
    "a JSON list": (b"[]", {"Content-Type": "application/json"}, 400),
    "empty": (b"", {"Content-Type": "application/json"}, 400),
    "NaN": (NAN_BODY, {"Content-Type": "application/json"}, 400),
    "text/plain": (b'{"inputs": []}', {"Content-Type": "text/plain"}, 415),
    "a form": (b"a=b", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    "binary without its header": (b"{}", {"Content-Type": "application/octet-stream"}, 400),
    "header longer than the body": (b"{}", {"Content-Type": BINARY, HEADER: "10"}, 400),
    "header not a number": (b"{}", {"Content-Type": BINARY, HEADER: "ten"}, 400),
    "binary_data_size past the end": (
        PAST_THE_END,
        {"Content-Type": "application/octet-stream", HEADER: str(len(PAST_THE_END))},
        400,
    ),
    "bytes left over": (
        b'{"inputs": []}xyz',
        {"Content-Type": "application/octet-stream", HEADER: "14"},
        400,
    ),
    "compressed": (b"{}", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 415),
}


@pytest.mark.parametrize(("body", "headers", "status"), BAD_BODIES.values(), ids=BAD_BODIES)
def test_bad_bodies_are_4xx_with_an_error(live_server, body, headers, status):
    got, answer_headers, answer = request(
        live_server, "POST", "/v2/models/digits/infer", body, headers
    )
    assert got == status, answer
    assert answer_headers.get_content_type() == "application/json"
    assert isinstance(answer["error"], str) and answer["error"]


def test_truncated_binary_bytes_tensor_is_a_400(live_server):
    element = struct.pack("<I", 1000) + b"\x89PNG"  # says 1000 bytes, holds 4
    header = {"inputs": [binary_image(len(element))]}
    head = json.dumps(header).encode()
    status, _, answer = request(
        live_server,
        "POST",
        "/v2/models/digits/infer",
        head + element,
        {"Content-Type": BINARY, HEADER: str(len(head))},
    )
    assert status == 400
    assert "cut short" in answer["error"]


def test_wrong_method_and_unknown_route(live_server):
    status, headers, answer = request(live_server, "GET", "/v2/models/digits/infer")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert answer["error"]
    status, _, answer = request(live_server, "GET", "/v2/models/digits/config")
    assert status == 404
    assert answer["error"]


def test_tritonclient_sees_the_servers_error(triton_client):
    image = triton.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([b"not a picture"], dtype=object))
    with pytest.raises(InferenceServerException) as raised:
        triton_client.infer("digits", [image])
    assert raised.value.status() == "415"
    assert "not a supported image" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        triton_client.infer("no-such-model", [image])
    assert raised.value.status() == "404"


# History: every item of a V2 batch is a prediction like any other.


def wait_for_predictions(server, model, ids, opener, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        status, _, answer = request(
            server, "GET", f"/api/v1/predictions?model={model}&per_page=100", opener=opener
        )
        assert status == 200, answer
        found = {p["id"]: p for p in answer["predictions"] if p["id"] in ids}
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_v2_predictions_are_in_the_history(live_server):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    pictures = {
        "inputs": [tensor(shape=(2,), data=[b64(DIGITS[0]), b64(DIGITS[1])])],
    }
    status, _, answer = post_json(live_server, "/v2/models/digits/infer", pictures, opener)
    assert status == 200, answer
    picture_ids = answer["parameters"]["prediction_ids"].split(",")
    tensors = {
        "inputs": [
            tensor("input", "FP32", (1, 1, 28, 28), prepared("digits", DIGITS[0]).ravel().tolist())
        ]
    }
    status, _, answer = post_json(live_server, "/v2/models/digits/infer", tensors, opener)
    assert status == 200, answer
    (tensor_id,) = answer["parameters"]["prediction_ids"].split(",")

    ids = {*picture_ids, tensor_id}
    assert len(ids) == 3
    found = wait_for_predictions(live_server, "digits", ids, opener)
    assert set(found) == ids
    assert all(p["label"] == "1" and p["model"] == "digits" for p in found.values())

    # The drawing as sent; for a tensor, a picture of what the model saw (a 28x28 PNG).
    status, headers, data = request(
        live_server, "GET", f"/api/v1/predictions/{picture_ids[0]}/input", opener=opener
    )
    assert status == 200
    assert data == DIGITS[0]
    status, headers, data = request(
        live_server, "GET", f"/api/v1/predictions/{tensor_id}/input", opener=opener
    )
    assert status == 200
    assert headers.get_content_type() == "image/png"
    assert data.startswith(b"\x89PNG") and len(data) < 4096


def test_a_photo_tensor_is_kept_as_a_thumbnail(live_server):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    array = prepared("efficientnet-lite0", chelsea_jpeg())
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": [1, *array.shape],
                    "parameters": {"binary_data_size": array.nbytes},
                }
            ]
        }
    ).encode()
    status, _, answer = request(
        live_server,
        "POST",
        "/v2/models/efficientnet-lite0/infer",
        head + array.astype("<f4").tobytes(),
        {"Content-Type": "application/octet-stream", HEADER: str(len(head))},
        opener,
    )
    assert status == 200, answer
    (prediction_id,) = answer["parameters"]["prediction_ids"].split(",")
    found = wait_for_predictions(live_server, "efficientnet-lite0", {prediction_id}, opener)
    assert found[prediction_id]["label"] in CAT_CLASSES
    status, headers, data = request(
        live_server, "GET", f"/api/v1/predictions/{prediction_id}/input", opener=opener
    )
    assert status == 200
    assert headers.get_content_type() == "image/jpeg"


# A tabular model: one input per feature (in-process: the live server has none).


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2-tabular")
    model = penguins_model(root / "store")
    app = make_app(root / "instance", root / "store", ("penguins",))
    return app, model


def feature_inputs(rows, binary):
    inputs = []
    for name, value in rows[0].items():
        column = [row[name] for row in rows]
        if isinstance(value, str):
            given = triton.InferInput(name, [len(rows)], "BYTES")
            given.set_data_from_numpy(np.array(column, dtype=object), binary_data=binary)
        else:
            given = triton.InferInput(name, [len(rows)], "FP32")
            given.set_data_from_numpy(np.array(column, dtype=np.float32), binary_data=binary)
        inputs.append(given)
    return inputs


def infer_in_process(client, model, inputs, outputs=None):
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs)
    headers = {} if json_size is None else {HEADER: str(json_size)}
    response = client.post(f"/v2/models/{model}/infer", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    length = response.headers.get(HEADER)
    return triton.InferenceServerClient.parse_response_body(
        response.get_data(), header_length=None if length is None else int(length)
    )


def test_tabular_metadata_names_one_input_per_feature(penguins):
    app, _ = penguins
    metadata = app.test_client().get("/v2/models/penguins").get_json()
    assert metadata["platform"] == "sklearn"
    assert metadata["inputs"] == [
        {"name": "bill length (mm)", "datatype": "FP32", "shape": [-1]},
        {"name": "flipper length (mm)", "datatype": "FP32", "shape": [-1]},
        {"name": "body mass (g)", "datatype": "FP32", "shape": [-1]},
        {"name": "island", "datatype": "BYTES", "shape": [-1]},
        {"name": "sex", "datatype": "BYTES", "shape": [-1]},
    ]
    assert metadata["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tabular_rows_answer_as_the_estimator(penguins, binary):
    app, model = penguins
    client = app.test_client()
    rows = [model.row(i) for i in range(4)]
    wanted = triton.InferRequestedOutput("probabilities", binary_data=binary, class_count=1)
    result = infer_in_process(client, "penguins", feature_inputs(rows, binary), [wanted])
    best = [
        item.decode() if isinstance(item, bytes) else item
        for item in result.as_numpy("probabilities")[:, 0]
    ]
    assert [text.split(":", 2)[2] for text in best] == [model.predict(row) for row in rows]

    ids = result.get_response()["parameters"]["prediction_ids"].split(",")
    app.extensions["modelport"].recorder.flush()
    listed = client.get("/api/v1/predictions?model=penguins&per_page=100").get_json()
    stored = {p["id"]: p["inputs"] for p in listed["predictions"]}
    for prediction_id, row in zip(ids, rows, strict=True):
        assert stored[prediction_id] == row  # 5.1 stays 5.1 through FP32


def test_tabular_errors_name_the_feature(penguins):
    app, model = penguins
    client = app.test_client()
    row = model.row(0)

    def infer(inputs):
        return client.post("/v2/models/penguins/infer", json={"inputs": inputs})

    complete = [
        tensor(name, "BYTES" if isinstance(value, str) else "FP32", (1,), [value])
        for name, value in row.items()
    ]
    response = infer(complete[:-1])
    assert response.status_code == 400
    assert "'sex'" in response.get_json()["error"]
    response = infer([*complete, tensor("beak colour", "BYTES", (1,), ["red"])])
    assert response.status_code == 400
    assert "beak colour" in response.get_json()["error"]
    response = infer([*complete[:-1], tensor("sex", "BYTES", (1,), ["unknown"])])
    assert response.status_code == 422
    assert "sex" in response.get_json()["error"]
    response = infer([*complete[:3], tensor("island", "FP32", (1,), [1.0]), complete[4]])
    assert response.status_code == 400
    response = infer(
        [tensor(t["name"], t["datatype"], (2,), t["data"] * 2) for t in complete[:4]]
        + [complete[4]]
    )
    assert response.status_code == 400
    assert "rows" in response.get_json()["error"]
