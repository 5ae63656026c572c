"""Corrections come back as training data for ``modelport train digits --with-feedback``."""

from __future__ import annotations

import io

import numpy as np
from conftest import drawn_one
from PIL import Image
from store_support import event

from modelport.inputs import sketch
from modelport.store import SqlRecorder, Store
from modelport.store import queries as q
from modelport.store.learning import corrected_drawings


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
