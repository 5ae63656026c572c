"""Teaching a classifier from a few examples, through the API: three classes of eight
examples made at test time from scikit-image's and scikit-learn's sample photos (crops,
flips, colour changes), classified on 30 other crops; exported as one ONNX file that
answers as the served model does and that ``modelport add`` takes back; corrected; seen
by another replica; refused kindly when it cannot be done."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import skimage.data
from conftest import AuthActions, make_app
from PIL import Image
from sklearn.datasets import load_sample_image
from teach_pictures import jpeg, variant

from modelport.inputs.decode import Limits
from modelport.models.registry import load_one

CLASSES = {
    "cat": lambda: Image.fromarray(skimage.data.chelsea()),
    "coffee": lambda: Image.fromarray(skimage.data.coffee()),
    "flower": lambda: Image.fromarray(load_sample_image("flower.jpg")),
}
EXAMPLES_PER_CLASS = 8
TRIALS_PER_CLASS = 10


def pictures(seed: int, per_class: int) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(seed)
    return {
        label: [jpeg(variant(photo(), rng)) for _ in range(per_class)]
        for label, photo in CLASSES.items()
    }


@pytest.fixture(scope="module")
def teach_app(tmp_path_factory, model_store):
    return make_app(tmp_path_factory.mktemp("teach"), model_store, ("efficientnet-lite0",))


@pytest.fixture(scope="module")
def teacher(teach_app) -> dict[str, str]:
    return AuthActions(teach_app).headers("teacher")


def send_examples(client, headers, name: str, label: str, files: list[bytes]):
    form = {
        "label": label,
        "file": [(io.BytesIO(f), f"{label}-{i}.jpg") for i, f in enumerate(files)],
    }
    return client.post(
        f"/api/v1/taught/{name}/examples",
        data=form,
        headers=headers,
        content_type="multipart/form-data",
    )


@pytest.fixture(scope="module")
def things(teach_app, teacher) -> str:
    """'things', taught and trained from 8 examples of each class."""
    client = teach_app.test_client()
    made = client.post("/api/v1/taught", json={"name": "things"}, headers=teacher)
    assert made.status_code == 201, made.json
    for label, files in pictures(seed=1, per_class=EXAMPLES_PER_CLASS).items():
        added = send_examples(client, teacher, "things", label, files)
        assert added.status_code == 201, added.json
    trained = client.post("/api/v1/taught/things/train", headers=teacher)
    assert trained.status_code == 200, trained.json
    return "things"


def predict(client, name: str, picture: bytes) -> dict:
    response = client.post(
        f"/api/v1/models/{name}/predict",
        data={"file": (io.BytesIO(picture), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    return response.json


def test_three_classes_from_eight_examples_each_answer_thirty_new_crops(teach_app, things):
    client = teach_app.test_client()
    described = client.get(f"/api/v1/taught/{things}").json
    assert described["served"] and described["examples"] == 3 * EXAMPLES_PER_CLASS
    assert {c["label"]: c["examples"] for c in described["classes"]} == dict.fromkeys(
        CLASSES, EXAMPLES_PER_CLASS
    )
    assert described["confusion"]["labels"] == list(CLASSES)
    right = total = 0
    for label, files in pictures(seed=2, per_class=TRIALS_PER_CLASS).items():
        for picture in files:
            right += predict(client, things, picture)["predictions"][0]["label"] == label
            total += 1
    accuracy = right / total
    print(
        f"\ntaught from 3 x 8 examples: {right} of {total} new crops right ({accuracy:.0%});"
        f" leave-one-out {described['accuracy']:.0%}"
    )
    assert total == 30 and accuracy >= 0.9
    card = client.get(f"/models/{things}")
    assert card.status_code == 200 and "leave-one-out" in card.text
    assert "What it was taught" in card.text and card.text.count('class="taught-thumb') == 24
    thumbnail = client.get(described["example_list"][0]["thumbnail"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"


def test_the_api_document_names_a_taught_model_once_it_is_served(teach_app, teacher):
    client = teach_app.test_client()

    def predict_names() -> list[str]:
        paths = client.get("/openapi.json").json["paths"]
        predict = paths["/api/v1/models/{name}/predict"]["post"]
        return next(p for p in predict["parameters"] if p["name"] == "name")["schema"]["enum"]

    assert "later" not in predict_names()
    client.post("/api/v1/taught", json={"name": "later"}, headers=teacher)
    for label, files in pictures(seed=6, per_class=2).items():
        send_examples(client, teacher, "later", label, files)
    assert client.post("/api/v1/taught/later/train", headers=teacher).status_code == 200
    assert "later" in predict_names()


def test_the_exported_onnx_answers_as_the_served_model_and_add_takes_it_back(
    teach_app, things, tmp_path
):
    client = teach_app.test_client()
    served = teach_app.extensions["modelport"].registry.get(things)
    onnx_file = client.get(f"/api/v1/taught/{things}/model.onnx")
    toml = client.get(f"/api/v1/taught/{things}/modelport.toml")
    assert onnx_file.status_code == toml.status_code == 200
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / f"{things}.onnx").write_bytes(onnx_file.data)
    (folder / "modelport.toml").write_bytes(toml.data)

    photos = [p for files in pictures(seed=3, per_class=2).values() for p in files]
    batch = np.stack([served.prepare(served.decode(p, Limits())) for p in photos])
    session = ort.InferenceSession(onnx_file.data, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    exported = session.run(None, {session.get_inputs()[0].name: batch})[0]
    np.testing.assert_allclose(exported, served.predict(batch), atol=1e-5, rtol=0)
    labels = session.get_modelmeta().custom_metadata_map["labels"]
    assert labels == '["cat", "coffee", "flower"]'

    store = tmp_path / "store"
    added_by_cli = subprocess.run(
        [sys.executable, "-m", "modelport", "add", str(folder)],
        env=os.environ | {"MODELPORT_MODEL_STORE": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added_by_cli.returncode == 0, added_by_cli.stderr
    added = load_one(store, things)
    assert added.labels == served.labels
    np.testing.assert_allclose(added.predict(batch), served.predict(batch), atol=1e-5, rtol=0)


def test_a_correction_becomes_an_example_at_once(teach_app, things, teacher):
    client = teach_app.test_client()
    odd = jpeg(Image.fromarray(load_sample_image("china.jpg")))  # none of the three
    first = predict(client, things, odd)
    wrong = first["predictions"][0]["label"]
    right = next(label for label in CLASSES if label != wrong)
    teach_app.extensions["modelport"].recorder.flush()
    answer = client.post(
        f"/api/v1/predictions/{first['id']}/feedback", json={"label": right}, headers=teacher
    )
    assert answer.status_code == 200 and answer.json["learned"] is True, answer.json
    assert predict(client, things, odd)["predictions"][0]["label"] == right
    examples = client.get(f"/api/v1/taught/{things}").json["example_list"]
    assert [e["source"] for e in examples].count("correction") == 1


def test_another_replica_serves_what_was_taught(teach_app, things, model_store):
    other = make_app(Path(teach_app.instance_path), model_store, ("efficientnet-lite0",))
    assert things in other.extensions["modelport"].registry  # learned before it is ready
    picture = pictures(seed=4, per_class=1)["flower"][0]
    assert predict(other.test_client(), things, picture)["predictions"][0]["label"] == "flower"


def test_only_teachers_teach_unless_the_classroom_is_open(tmp_path, model_store):
    closed = make_app(tmp_path / "closed", model_store, ("efficientnet-lite0",))
    refused = closed.test_client().post("/api/v1/taught", json={"name": "mine"})
    assert refused.status_code == 401 and refused.json["error"] == "sign_in_required"
    opened = make_app(
        tmp_path / "open", model_store, ("efficientnet-lite0",), {"MODELPORT_TEACHING": "everyone"}
    )
    assert opened.test_client().post("/api/v1/taught", json={"name": "mine"}).status_code == 201


@pytest.mark.parametrize(
    ("send", "status", "error"),
    [
        (
            lambda c, h: c.post("/api/v1/taught", json={"name": "Not A Name"}, headers=h),
            400,
            "invalid_name",
        ),
        (
            lambda c, h: c.post("/api/v1/taught", json={"name": "efficientnet-lite0"}, headers=h),
            409,
            "name_taken",
        ),
        (
            lambda c, h: c.post("/api/v1/taught", json={"name": "things"}, headers=h),
            409,
            "name_taken",
        ),
        (lambda c, h: c.get("/api/v1/taught/nothing-here"), 404, "unknown_model"),
        (lambda c, h: send_examples(c, h, "things", "cat", [b"not a picture"]), 415, None),
        (
            lambda c, h: send_examples(c, h, "things", "", [jpeg(Image.new("RGB", (64, 64)))]),
            400,
            "invalid_label",
        ),
        (
            lambda c, h: c.post(
                "/api/v1/taught/things/examples",
                data={"label": "cat"},
                headers=h,
                content_type="multipart/form-data",
            ),
            400,
            "no_pictures",
        ),
        (lambda c, h: c.get("/api/v1/taught/things/examples/999999.jpg"), 404, "unknown_example"),
    ],
    ids=[
        "bad-name",
        "a-served-name",
        "taken",
        "unknown",
        "not-a-picture",
        "no-label",
        "no-files",
        "no-example",
    ],
)
def test_what_cannot_be_done_is_refused_kindly(teach_app, things, teacher, send, status, error):
    response = send(teach_app.test_client(), teacher)
    assert response.status_code == status, response.json
    assert response.json["detail"]
    if error:
        assert response.json["error"] == error


def test_training_needs_two_classes_and_export_needs_training(teach_app, teacher):
    client = teach_app.test_client()
    assert (
        client.post("/api/v1/taught", json={"name": "lonely"}, headers=teacher).status_code == 201
    )
    send_examples(client, teacher, "lonely", "cat", pictures(seed=5, per_class=3)["cat"])
    refused = client.post("/api/v1/taught/lonely/train", headers=teacher)
    assert refused.status_code == 400 and refused.json["error"] == "not_enough_examples"
    early = client.get("/api/v1/taught/lonely/model.onnx")
    assert early.status_code == 409 and early.json["error"] == "not_trained"
    assert client.delete("/api/v1/taught/lonely", headers=teacher).status_code == 204
    assert client.get("/api/v1/taught/lonely").status_code == 404
