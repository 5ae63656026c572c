"""``modelport teach NAME --class cat cats/*.jpg --class coffee coffee/*.jpg``: taught and
trained from files, served by the app on the same database, exported with --export."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import skimage.data
from conftest import make_app
from PIL import Image, ImageOps


def teach(instance, store, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "MODELPORT_INSTANCE_PATH": str(instance),
        "MODELPORT_MODEL_STORE": str(store),
    }
    return subprocess.run(
        [sys.executable, "-m", "modelport", "teach", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, list[str]]:
    """Four crops of the cat and of the coffee, as JPEG files in a folder each."""
    root = tmp_path_factory.mktemp("pictures")
    found = {}
    for label, photo in (("cat", skimage.data.chelsea()), ("coffee", skimage.data.coffee())):
        image = Image.fromarray(photo)
        (root / label).mkdir()
        found[label] = []
        for index, share in enumerate((0.9, 0.8, 0.7, 0.6)):
            w, h = int(image.width * share), int(image.height * share)
            look = (
                image.crop((0, 0, w, h)) if index % 2 else ImageOps.mirror(image).crop((0, 0, w, h))
            )
            path = root / label / f"{index}.jpg"
            look.save(path, "JPEG", quality=90)
            found[label].append(str(path))
    return found


def test_teach_trains_a_model_that_the_server_serves(tmp_path, model_store, folders):
    exported = tmp_path / "exported"
    done = teach(
        tmp_path, model_store, "--export", str(exported), "pets",
        "--class", "cat", *folders["cat"], "--class", "coffee", *folders["coffee"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "cat: 4 examples" in done.stdout and "leave-one-out accuracy 100.0%" in done.stdout
    app = make_app(tmp_path, model_store, ("efficientnet-lite0",))
    served = app.extensions["modelport"].registry.get("pets")
    assert served.labels == ["cat", "coffee"]
    session = ort.InferenceSession(
        (exported / "pets.onnx").read_bytes(), providers=["CPUExecutionProvider"]
    )
    photo = served.prepare(Image.fromarray(skimage.data.chelsea()))[None]
    np.testing.assert_allclose(
        session.run(None, {"image": photo})[0], served.predict(photo), atol=1e-5, rtol=0
    )
    assert 'labels = ["cat", "coffee"]' in (exported / "modelport.toml").read_text()
    again = teach(tmp_path, model_store, "pets", "--class", "cat", *folders["cat"][:2],
                  "--class", "coffee", *folders["coffee"][:2])  # fmt: skip
    assert again.returncode == 1 and "exists already" in again.stderr
    replaced = teach(tmp_path, model_store, "--replace", "pets", "--class", "cat",
                     *folders["cat"][:2], "--class", "coffee", *folders["coffee"][:2])  # fmt: skip
    assert replaced.returncode == 0 and "cat: 2 examples" in replaced.stdout


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("pets", "--class", "cat"), 2, "at least two classes"),
        (("pets", "photo.jpg"), 2, "give --class LABEL before"),
        (("pets", "--class", "cat", "missing.jpg", "--class", "dog", "gone.jpg"), 1, "missing.jpg"),
        (("Bad Name", "--class", "a", "x.jpg", "--class", "b", "y.jpg"), 1, "lowercase"),
    ],
    ids=["one-class", "no-class", "missing-file", "bad-name"],
)
def test_teach_says_what_is_wrong(tmp_path, model_store, args, code, said):
    done = teach(tmp_path, model_store, *args)
    assert done.returncode == code, done.stdout + done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    app = make_app(tmp_path, model_store, ("efficientnet-lite0",))
    assert app.test_client().get("/api/v1/taught").json["models"] == []  # nothing half-made
