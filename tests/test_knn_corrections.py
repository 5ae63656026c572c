"""digits-knn learns what the database says it learned: one correction per prediction, the
latest wins, every worker (a feed of its own) learns the same, and a new one learns it all
before it is ready. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import drawn_one
from PIL import Image
from store_support import database_url, event, store  # noqa: F401 - fixtures

from modelport.inputs.decode import Limits
from modelport.models.registry import load_one
from modelport.store import SqlRecorder, learned
from modelport.store import queries as q
from modelport.store.corrections_feed import CorrectionsFeed


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    return tmp_path_factory.mktemp("knn-models")


def worker(db, models_root) -> tuple:
    """A worker's model and the feed that keeps it in step with the database."""
    model = load_one(models_root, "digits-knn")
    feed = CorrectionsFeed(db, {"digits-knn": model}, Limits())
    feed.sync()
    return model, feed


def answer(model, drawing: bytes) -> str:
    sample = model.prepare(Image.open(io.BytesIO(drawing)))
    return model.top(model.predict(sample[None])[0], 1)[0].label


def other_than(label: str, *also: str) -> str:
    return next(d for d in "7412" if d != label and d not in also)


def recorded(db, drawing: bytes, created_at: datetime | None = None) -> str:
    """A digits-knn prediction of ``drawing``, stored as the server stores it."""
    made = event(data=drawing, image=Image.open(io.BytesIO(drawing)), created_at=created_at)
    recorder = SqlRecorder(db)
    recorder.record(made)
    assert recorder.flush(10)
    return made.id


def correct(db, prediction_id: str, label: str) -> None:
    q.save_feedback(db, q.get_prediction(db, prediction_id), label, "user:ada", True)
    learned.mark_learned(db, prediction_id, label)


def test_a_correction_is_learned_by_every_worker_and_by_a_new_one(store, models_root):  # noqa: F811
    one, one_feed = worker(store, models_root)
    other, other_feed = worker(store, models_root)
    drawing = drawn_one()
    correction = other_than(answer(one, drawing))
    correct(store, recorded(store, drawing), correction)
    assert answer(other, drawing) != correction  # not before it reads the database
    one_feed.sync()
    other_feed.sync()
    assert answer(one, drawing) == answer(other, drawing) == correction
    newcomer, _ = worker(store, models_root)
    assert answer(newcomer, drawing) == correction
    assert newcomer.info.metrics["learned_samples"] == 1
    # A slightly different drawing of the same thing still goes by its neighbours.
    assert answer(newcomer, drawn_one(width=30)) == answer(
        load_one(models_root, "digits-knn"), drawn_one(width=30)
    )


def test_correcting_a_prediction_again_replaces_what_was_learned(store, models_root):  # noqa: F811
    model, feed = worker(store, models_root)
    drawing = drawn_one()
    first = other_than(answer(model, drawing))
    second = other_than(answer(model, drawing), first)
    prediction = recorded(store, drawing)
    for _ in range(3):
        correct(store, prediction, first)
    correct(store, prediction, second)
    feed.sync()
    assert [c.label for c in learned.corrections(store, "digits-knn")] == [second]
    assert model.info.metrics["learned_samples"] == 1
    assert answer(model, drawing) == second


def test_the_latest_correction_of_the_same_input_wins_and_repeats_count_once(store, models_root):  # noqa: F811
    model, feed = worker(store, models_root)
    one, other = drawn_one(), drawn_one(size=(200, 300), width=24)
    correct(store, recorded(store, one), "7")
    correct(store, recorded(store, other), "4")
    correct(store, recorded(store, one), "2")  # the same drawing again, told otherwise
    feed.sync()
    assert answer(model, one) == "2" and answer(model, other) == "4"
    correct(store, recorded(store, one), "2")  # once more the same: one neighbour, not two
    feed.sync()
    assert model.info.metrics["learned_samples"] == 3


def test_purging_corrections_forgets_them_everywhere(store, models_root):  # noqa: F811
    model, feed = worker(store, models_root)
    drawing = drawn_one(size=(260, 200), width=22)
    before = answer(model, drawing)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    correct(store, recorded(store, drawing, created_at=long_ago), other_than(before))
    feed.sync()
    assert answer(model, drawing) != before
    assert q.purge(store, datetime.now(UTC) - timedelta(days=1), include_corrections=True) == 1
    feed.sync()
    assert answer(model, drawing) == before and model.info.metrics["learned_samples"] == 0


def test_an_unreadable_stored_input_is_left_out(store, models_root):  # noqa: F811
    model, feed = worker(store, models_root)
    made = event(data=b"not a picture")
    recorder = SqlRecorder(store)
    recorder.record(made)
    assert recorder.flush(10)
    correct(store, made.id, "3")
    feed.sync()
    assert model.info.metrics["learned_samples"] == 0
    assert np.isfinite(model.predict(np.zeros((1, 64), np.float32))).all()
