"""Dynamic batching: concurrent calls share a model call, each caller gets its own rows,
a lone call waits at most ``max_wait``, and a full batch does not wait at all."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import make_app
from PIL import Image

from modelport.models.base import Model, ModelInfo
from modelport.models.batching import BatchingModel, BatchPolicy, parse_policies
from modelport.models.registry import load_one


class Softmax(Model):
    """A tiny deterministic model that remembers the batch sizes it was called with."""

    def __init__(self, fail_on: float | None = None) -> None:
        self.info = ModelInfo("softmax", "1", "sketch", [str(i) for i in range(4)])
        self.calls: list[int] = []
        self.fail_on = fail_on
        self.weights = np.arange(12, dtype=np.float32).reshape(3, 4) / 10

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.zeros(3, np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        if self.fail_on is not None and (batch == self.fail_on).any():
            raise RuntimeError("model failed")
        scores = np.exp(batch @ self.weights)
        return scores / scores.sum(axis=1, keepdims=True)


def run_together(model: Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Call ``model.predict`` on each input from its own thread, all released at once."""
    barrier = threading.Barrier(len(inputs))

    def call(x: np.ndarray) -> np.ndarray:
        barrier.wait()
        return model.predict(x[None])

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_concurrent_calls_share_batches_and_each_gets_its_own_rows():
    inner = Softmax()
    model = BatchingModel(inner, BatchPolicy(max_batch_size=8, max_wait_ms=200))
    inputs = [np.full(3, i, np.float32) for i in range(8)]
    outputs = run_together(model, inputs)
    for x, out in zip(inputs, outputs, strict=True):
        np.testing.assert_allclose(out, inner.predict(x[None]), rtol=1e-6)
    batched_calls = inner.calls[: -len(inputs)]
    assert sum(batched_calls) == 8
    assert len(batched_calls) < 8  # some calls were merged
    assert max(batched_calls) > 1


def test_a_real_model_answers_the_same_batched_or_not(model_store):
    knn = load_one(model_store, "digits-knn")
    model = BatchingModel(knn, BatchPolicy(max_batch_size=4, max_wait_ms=100))
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(0, 16, (8, 8)).astype(np.float32) for _ in range(6)]
    outputs = run_together(model, inputs)
    for x, out in zip(inputs, outputs, strict=True):
        np.testing.assert_array_equal(out, knn.predict(x[None]))


def test_a_lone_call_waits_no_longer_than_max_wait():
    inner = Softmax()
    model = BatchingModel(inner, BatchPolicy(max_batch_size=8, max_wait_ms=30))
    started = time.perf_counter()
    model.predict(np.ones((1, 3), np.float32))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.030 + 0.050
    assert inner.calls == [1]


def test_a_full_batch_goes_without_waiting():
    inner = Softmax()
    model = BatchingModel(inner, BatchPolicy(max_batch_size=4, max_wait_ms=1000))
    started = time.perf_counter()
    run_together(model, [np.full(3, i, np.float32) for i in range(4)])
    assert time.perf_counter() - started < 0.5
    assert sum(inner.calls) == 4


def test_a_batch_larger_than_the_maximum_runs_alone():
    inner = Softmax()
    model = BatchingModel(inner, BatchPolicy(max_batch_size=4, max_wait_ms=1000))
    started = time.perf_counter()
    out = model.predict(np.ones((6, 3), np.float32))
    assert time.perf_counter() - started < 0.5
    assert out.shape == (6, 4)
    assert inner.calls == [6]


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_batch_works():
    inner = Softmax(fail_on=3.0)
    model = BatchingModel(inner, BatchPolicy(max_batch_size=4, max_wait_ms=1000))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def call(value: float) -> None:
        barrier.wait()
        try:
            model.predict(np.full((1, 3), value, np.float32))
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(float(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(errors) >= 1  # every caller in the failing batch, at least the culprit
    assert sum(inner.calls) == 4
    assert model.predict(np.zeros((1, 3), np.float32)).shape == (1, 4)


def test_policies_are_read_from_one_setting():
    assert parse_policies("efficientnet-lite0=8/2, digits=16/0.5") == {
        "efficientnet-lite0": BatchPolicy(8, 2.0),
        "digits": BatchPolicy(16, 0.5),
    }
    assert parse_policies("off") == {}
    assert parse_policies("") == {}
    for bad in ("digits", "digits=8", "digits=x/2", "=8/2", "digits=0/2", "digits=8/-1"):
        with pytest.raises(ValueError, match="batching"):
            parse_policies(bad)


def test_the_app_wraps_the_models_named_in_its_settings(tmp_path, model_store):
    app = make_app(tmp_path, model_store, ("digits-knn",), {"MODELPORT_BATCHING": "digits-knn=4/1"})
    model = app.extensions["modelport"].registry.get("digits-knn")
    assert isinstance(model, BatchingModel)
    assert model.policy == BatchPolicy(4, 1.0)
    from conftest import data_uri, drawn_one

    response = app.test_client().post("/api/predict", json={"image": data_uri(drawn_one())})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1\n"


def test_a_batched_photo_model_decodes_as_the_model_itself(model_store):
    """Its EXIF turn applied: a phone's portrait photo stored sideways is seen upright."""
    import io

    import skimage.data

    from modelport.inputs.decode import Limits

    model = load_one(model_store, "efficientnet-lite0")
    batched = BatchingModel(model, BatchPolicy(4, 2.0))
    upright = Image.fromarray(skimage.data.chelsea())  # 451 x 300
    exif = Image.Exif()
    exif[0x0112] = 8  # Orientation: turn 90 degrees counter-clockwise to display
    buffer = io.BytesIO()
    upright.rotate(-90, expand=True).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    seen = batched.decode(buffer.getvalue(), Limits())
    assert seen.size == model.decode(buffer.getvalue(), Limits()).size == upright.size
