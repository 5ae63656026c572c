# ruff: noqa: F811 - the fixtures imported from store_support are parameters here
"""The background recorder: nothing lost, nothing blocking, failures counted not raised."""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import drawn_one
from PIL import Image
from store_support import database_url, event, store  # noqa: F401 - fixtures

from modelport.store import SqlRecorder, Store
from modelport.store.queries import count_predictions, get_prediction, input_image


def test_predictions_land_with_their_drawing_as_sent(store):
    recorder = SqlRecorder(store)
    drawing = drawn_one()
    sent = event(data=drawing, image=Image.open(io.BytesIO(drawing)))
    recorder.record(sent)
    assert recorder.flush(timeout=10)
    row = get_prediction(store, sent.id)
    assert row is not None
    assert (row.model, row.label, row.input_kind) == ("digits-knn", "1", "sketch")
    assert row.predictions[0] == {"label": "1", "score": 0.9}
    assert input_image(store, sent.id) == (drawing, "image/png")
    assert recorder.stats.recorded == 1 and recorder.stats.failed == 0


def test_photos_keep_a_small_thumbnail_and_the_upload_only_when_asked(store):
    photo = Image.new("RGB", (1200, 800), (200, 30, 30))
    upload = b"\xff\xd8\xff pretend this is the uploaded file"
    plain, keeping = SqlRecorder(store), SqlRecorder(store, keep_uploads=True)
    first = event(model="efficientnet-lite0", label="tabby", kind="photo", image=photo, data=upload)
    second = event(model="efficientnet-lite0", label="cat", kind="photo", image=photo, data=upload)
    plain.record(first)
    keeping.record(second)
    assert plain.flush(10) and keeping.flush(10)
    thumbnail, mime = input_image(store, first.id)
    assert mime == "image/jpeg"
    # reduced by 5, the whole factor that brings 1200 px within 256
    assert Image.open(io.BytesIO(thumbnail)).size == (240, 160)
    with store.session() as session:
        from modelport.store.tables import PredictionRow

        assert session.get(PredictionRow, first.id).upload is None
        assert session.get(PredictionRow, second.id).upload == upload


@contextmanager
def locked_predictions(store: Store) -> Iterator[None]:
    """Another connection holds the predictions table: no one else writes it meanwhile."""
    if store.is_sqlite:
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    with store.engine.connect() as connection:
        connection.exec_driver_sql("LOCK TABLE predictions IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            connection.rollback()


def test_record_never_waits_for_the_database_and_many_threads_lose_nothing(store):
    """Four threads record 1,000 predictions while another connection holds the
    predictions table locked: every record() returns before the lock is let go."""
    recorder = SqlRecorder(store)
    recorder.record(event())  # the writer is running before the table is locked
    assert recorder.flush(timeout=30)

    def client() -> None:
        for _ in range(250):
            recorder.record(event())

    with locked_predictions(store):
        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        recorded_while_locked = not any(thread.is_alive() for thread in threads)
    assert recorded_while_locked, "record() waited for the database"
    assert recorder.flush(timeout=60)
    assert count_predictions(store) == 1001
    assert recorder.stats.recorded == 1001


def test_a_failure_to_record_is_counted_and_never_raised(tmp_path, caplog):
    # A database without the tables (no migration): every insert fails.
    recorder = SqlRecorder(Store(f"sqlite:///{tmp_path / 'empty.db'}"))
    recorder.record(event())
    assert recorder.flush(timeout=30)
    assert recorder.stats.failed == 1 and recorder.stats.recorded == 0
    assert "not recorded" in caplog.text


def test_a_full_queue_drops_and_counts_rather_than_blocks(store):
    recorder = SqlRecorder(store, max_queue=1)
    for _ in range(50):
        recorder.record(event())
    assert recorder.flush(timeout=30)
    stats = recorder.stats
    assert stats.dropped > 0
    assert stats.recorded + stats.dropped == 50
    assert count_predictions(store) == stats.recorded
