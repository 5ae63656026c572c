"""digits-knn learns corrections at once, keeps them, and shares them with other workers."""

from __future__ import annotations

import io

import numpy as np
from conftest import drawn_one
from PIL import Image
from store_support import event

from modelport.inputs import sketch
from modelport.inputs.decode import Limits
from modelport.models import digits_knn
from modelport.models.registry import load_one
from modelport.store import SqlRecorder, Store
from modelport.store import queries as q
from modelport.store.learning import corrected_drawings, learn_correction


def load_knn(root) -> digits_knn.DigitsKnn:
    return load_one(root, "digits-knn")


def answer(model, drawing: bytes) -> str:
    sample = model.prepare(Image.open(io.BytesIO(drawing)))
    return model.top(model.predict(sample[None])[0], 1)[0].label


def test_a_correction_is_learned_at_once_and_survives_a_restart(tmp_path):
    model = load_knn(tmp_path)
    drawing = drawn_one()
    before = answer(model, drawing)
    corrected = "7" if before != "7" else "4"
    assert learn_correction(model, drawing, corrected, Limits())
    assert answer(model, drawing) == corrected
    assert model.info.metrics["learned_samples"] == 1
    assert answer(load_knn(tmp_path), drawing) == corrected  # a new process, same store
    # A slightly different drawing of the same thing still goes by its neighbours.
    assert answer(model, drawn_one(width=30)) == before


def test_other_workers_pick_up_what_one_learned(tmp_path):
    one, other = load_knn(tmp_path), load_knn(tmp_path)  # two workers, one store
    drawing = drawn_one(size=(200, 300))
    corrected = "2" if answer(other, drawing) != "2" else "3"
    learn_correction(one, drawing, corrected, Limits())
    assert answer(other, drawing) == corrected
    learn_correction(other, drawing, "5", Limits())  # the latest correction wins
    assert answer(one, drawing) == "5"
    with np.load(tmp_path / "digits-knn" / digits_knn.LEARNED) as learned:
        assert learned["samples"].shape == (2, 64)
        assert learned["labels"].tolist() == [int(corrected), 5]


def test_corrected_drawings_come_back_as_mnist_images(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    recorder = SqlRecorder(store)
    drawing = drawn_one()
    made = [
        event(model="digits", data=drawing, image=Image.open(io.BytesIO(drawing))) for _ in range(4)
    ]
    photo = event(model="efficientnet-lite0", kind="photo", label="tabby")
    for item in [*made, photo]:
        recorder.record(item)
    assert recorder.flush(10)
    teacher = {"given_by": "user:ada", "trusted": True}
    q.save_feedback(store, q.get_prediction(store, made[0].id), "7", **teacher)  # corrected
    q.save_feedback(store, q.get_prediction(store, made[1].id), "1", **teacher)  # confirmed
    q.save_feedback(store, q.get_prediction(store, photo.id), "tiger cat", **teacher)
    # A visitor's suggestion is training data only once an operator accepts it.
    q.save_feedback(store, q.get_prediction(store, made[2].id), "4", given_by="visitor-1")
    images, labels = corrected_drawings(store)
    assert images.shape == (1, 28, 28) and images.dtype == np.float32
    assert labels.tolist() == [7]
    expected = sketch.to_mnist(sketch.ink_from_image(Image.open(io.BytesIO(drawing))))
    np.testing.assert_array_equal(images[0], expected)
    images, labels = corrected_drawings(store, include_confirmed=True)
    assert sorted(labels.tolist()) == [1, 7]
    assert sorted(corrected_drawings(store, trusted_only=False)[1].tolist()) == [4, 7]
    q.review_feedback(store, made[2].id, accept=True, reviewer="user:op")
    assert sorted(corrected_drawings(store)[1].tolist()) == [4, 7]
    q.review_feedback(store, made[2].id, accept=False, reviewer="user:op")
    assert corrected_drawings(store)[1].tolist() == [7]
