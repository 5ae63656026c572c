"""digits-knn keeps one correction per prediction: repeated feedback never grows learned.npz."""

from __future__ import annotations

import io

import numpy as np
from conftest import drawn_one
from PIL import Image

from modelport.inputs.decode import Limits
from modelport.models import digits_knn
from modelport.models.registry import load_one
from modelport.store.learning import learn_correction


def load_knn(root) -> digits_knn.DigitsKnn:
    return load_one(root, "digits-knn")


def answer(model, drawing: bytes) -> str:
    sample = model.prepare(Image.open(io.BytesIO(drawing)))
    return model.top(model.predict(sample[None])[0], 1)[0].label


def learned(root) -> tuple[list[int], list[str], int]:
    """The learned labels, keys and number of samples, as stored."""
    with np.load(root / "digits-knn" / digits_knn.LEARNED) as data:
        return data["labels"].tolist(), data["keys"].tolist(), len(data["samples"])


def other_than(label: str, *also: str) -> str:
    return next(d for d in "7412" if d != label and d not in also)


def test_feedback_repeated_on_one_prediction_adds_nothing(tmp_path):
    model = load_knn(tmp_path)
    drawing = drawn_one()
    correction = other_than(answer(model, drawing))
    for _ in range(5):
        assert learn_correction(model, drawing, correction, Limits(), key="p1")
    assert learned(tmp_path) == ([int(correction)], ["p1"], 1)
    stamp = (tmp_path / "digits-knn" / digits_knn.LEARNED).stat().st_mtime_ns
    learn_correction(model, drawing, correction, Limits(), key="p1")
    assert (tmp_path / "digits-knn" / digits_knn.LEARNED).stat().st_mtime_ns == stamp
    assert model.info.metrics["learned_samples"] == 1
    assert answer(model, drawing) == correction


def test_a_new_correction_of_a_prediction_replaces_the_earlier_one(tmp_path):
    model = load_knn(tmp_path)
    drawing = drawn_one()
    first = other_than(answer(model, drawing))
    second = other_than(answer(model, drawing), first)
    learn_correction(model, drawing, first, Limits(), key="p1")
    learn_correction(model, drawing, second, Limits(), key="p1")
    assert learned(tmp_path) == ([int(second)], ["p1"], 1)
    assert answer(model, drawing) == second
    assert answer(load_knn(tmp_path), drawing) == second  # another worker, the same


def test_corrections_of_different_predictions_are_all_kept_and_the_latest_wins(tmp_path):
    model = load_knn(tmp_path)
    one, other = drawn_one(), drawn_one(size=(200, 300), width=24)
    learn_correction(model, one, "7", Limits(), key="p1")
    learn_correction(model, other, "4", Limits(), key="p2")
    learn_correction(model, one, "2", Limits(), key="p1")  # p1 again: moves last
    assert learned(tmp_path) == ([4, 2], ["p2", "p1"], 2)
    # The same drawing made again (a new prediction) and corrected otherwise: kept too.
    learn_correction(model, one, "3", Limits(), key="p3")
    assert learned(tmp_path)[2] == 3
    assert answer(model, one) == "3" and answer(model, other) == "4"


def test_without_a_key_the_same_input_and_label_is_kept_once(tmp_path):
    model = load_knn(tmp_path)
    drawing = drawn_one()
    correction = other_than(answer(model, drawing))
    for _ in range(3):
        learn_correction(model, drawing, correction, Limits())
    assert learned(tmp_path) == ([int(correction)], [""], 1)


def test_a_learned_file_from_before_keys_is_read_and_kept(tmp_path):
    model = load_knn(tmp_path)
    drawing = drawn_one()
    sample = model.prepare(Image.open(io.BytesIO(drawing))).reshape(1, 64).astype(np.float32)
    path = tmp_path / "digits-knn" / digits_knn.LEARNED
    with open(path, "wb") as handle:  # as learn() wrote it before: no keys
        np.savez(handle, samples=np.repeat(sample, 3, axis=0), labels=np.array([5, 5, 5]))
    model = load_knn(tmp_path)
    assert model.info.metrics["learned_samples"] == 3 and answer(model, drawing) == "5"
    learn_correction(model, drawing, "6", Limits(), key="p9")
    labels, keys, count = learned(tmp_path)
    assert (labels, keys, count) == ([5, 5, 5, 6], ["", "", "", "p9"], 4)
    assert answer(model, drawing) == "6"
