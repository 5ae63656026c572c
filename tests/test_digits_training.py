"""Training the ``digits`` CNN: the held-out split, reproducibility, the exported ONNX model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from modelport.models.store import BUNDLED, ModelStore
from modelport.training import digits_data

REQUIRED_METRICS = {
    "version",
    "validation_accuracy",
    "confusion_matrix",
    "training_data_sha256",
    "trained_at",
    "epochs",
    "seed",
}


def test_held_out_split_is_fixed_stratified_and_never_trained_on():
    held_out, training = digits_data.held_out_split(), digits_data.training_split()
    images, labels = digits_data.load_handwriting()
    assert len(held_out) == 250 and len(training) == 2250
    assert set(held_out.indices) | set(training.indices) == set(range(len(labels)))
    # the same share of every digit
    expected = np.bincount(labels, minlength=10) * 0.1
    assert np.all(np.abs(np.bincount(held_out.labels, minlength=10) - expected) < 1)
    # the same digits every time: the split does not depend on any training seed
    assert np.array_equal(held_out.indices, digits_data.held_out_split().indices)
    assert held_out.indices[:5].tolist() == [5, 12, 20, 23, 33]
    # no held-out picture appears among the training pictures, not even as a duplicate
    assert not digits_data.image_hashes(held_out.images) & digits_data.image_hashes(training.images)


def test_sklearn_digits_are_rendered_into_the_mnist_layout():
    images, labels = digits_data.sklearn_digits()
    assert images.shape == (1797, 28, 28) and images.dtype == np.float32
    assert set(labels.tolist()) == set(range(10))
    assert images.min() >= 0 and images.max() == pytest.approx(1.0)
    # as sketch.to_mnist leaves a drawing: the ink fits a 20x20 box, its mass at the centre
    for inked in (images.max(axis=2) > 0, images.max(axis=1) > 0):
        extent = 28 - inked[:, ::-1].argmax(axis=1) - inked.argmax(axis=1)
        assert extent.max() <= 20
    grid = np.arange(28)
    mass = images.sum(axis=(1, 2))
    centre_row = (images.sum(axis=2) * grid).sum(axis=1) / mass
    centre_col = (images.sum(axis=1) * grid).sum(axis=1) / mass
    assert np.abs(centre_row - 13.5).max() < 1 and np.abs(centre_col - 13.5).max() < 1


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The same tiny training twice (1 epoch, 60 digits of each source) plus extra digits."""
    from modelport.training import digits

    held_out = digits_data.held_out_split()
    extra = (digits_data.normalise(held_out.images[:10]), held_out.labels[:10])
    runs = []
    for run in range(2):
        store = ModelStore(tmp_path_factory.mktemp(f"tiny-{run}"))
        metrics = digits.train(store, epochs=1, seed=3, extra=extra, progress=False, limit=60)
        runs.append((store, metrics))
    return runs


def test_training_writes_a_working_onnx_model_and_its_metrics(tiny_runs):
    store, metrics = tiny_runs[0]
    model = store.root / "digits" / "model.onnx"
    assert model.is_file() and model.stat().st_size < 1_000_000
    written = json.loads((store.root / "digits" / "metrics.json").read_text())
    assert written == metrics
    assert set(metrics) >= REQUIRED_METRICS
    assert metrics["epochs"] == 1 and metrics["seed"] == 3
    assert metrics["training_samples"] == 60 + 60 + 10
    assert metrics["training_sources"]["extra"] == 10
    assert np.array(metrics["confusion_matrix"]).sum() == 250

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.shape[1:] == [1, 28, 28] and given.type == "tensor(float)"
    batch = digits_data.normalise(digits_data.held_out_split().images[:7])[:, None]
    for size in (1, 7):  # the batch axis is dynamic
        probabilities = session.run(None, {given.name: batch[:size]})[0]
        assert probabilities.shape == (size, 10)
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert probabilities.min() >= 0


def test_training_is_reproducible(tiny_runs):
    (first_store, first), (second_store, second) = tiny_runs
    assert first["training_data_sha256"] == second["training_data_sha256"]
    assert first["validation_accuracy"] == second["validation_accuracy"]
    assert first["confusion_matrix"] == second["confusion_matrix"]
    batch = digits_data.normalise(digits_data.held_out_split().images[:50])[:, None]
    outputs = []
    for store in (first_store, second_store):
        path = store.root / "digits" / "model.onnx"
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"ink": batch})[0])
    assert np.abs(outputs[0] - outputs[1]).max() < 1e-5


def test_evaluate_reports_accuracy_and_confusion_matrix_of_the_bundled_model(tmp_path):
    from modelport.training import digits

    report = digits.evaluate(ModelStore(tmp_path))  # an empty store: the bundled model
    assert report["samples"] == 250
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 250
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 250)
    assert report["accuracy"] >= 0.97


def test_bundled_model_was_made_by_train_and_is_small():
    folder = BUNDLED / "digits"
    assert (folder / "model.onnx").stat().st_size < 1_000_000
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) >= REQUIRED_METRICS
    assert metrics["validation_accuracy"] >= 0.97
    assert metrics["model"] == "digits"


def test_serving_the_digits_model_does_not_import_torch(tmp_path):
    code = (
        "import sys, pathlib\n"
        "from modelport.models.store import ModelStore\n"
        "from modelport.models.registry import load_one\n"
        "from modelport.training import digits_data, render\n"
        "from modelport.training import digits\n"
        f"model = load_one(pathlib.Path({str(tmp_path)!r}), 'digits')\n"
        "digits.evaluate(ModelStore(pathlib.Path('.')))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
