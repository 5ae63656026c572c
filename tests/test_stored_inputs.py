"""What the history keeps of an input is its picture, bounded; and the history itself is
kept within an age and a number of rows."""

# ruff: noqa: F811 - the fixtures imported from store_support are parameters here
from __future__ import annotations

import io
import struct
import time
import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
from conftest import data_uri, drawn_one, make_app, png_bytes
from PIL import Image
from store_support import database_url, event, store  # noqa: F401 - fixtures

from modelport.store import SqlRecorder
from modelport.store import queries as q
from modelport.store.images import drawing_as_stored, only_pixels
from modelport.store.retention import Retention


def with_private_chunk(png: bytes, size: int) -> bytes:
    """The PNG with an ancillary chunk of ``size`` bytes before its end."""
    body = b"prVt" + b"\x00" * size
    chunk = struct.pack(">I", size) + body + struct.pack(">I", zlib.crc32(body))
    return png[:-12] + chunk + png[-12:]


def test_a_canvas_png_is_kept_as_it_came_and_anything_more_is_encoded_again():
    drawing = drawn_one()
    image = Image.open(io.BytesIO(drawing))
    assert only_pixels(drawing)
    assert drawing_as_stored(drawing, image) == (drawing, "image/png")
    stuffed = with_private_chunk(drawing, 2_000_000)
    assert not only_pixels(stuffed)
    kept, mime = drawing_as_stored(stuffed, Image.open(io.BytesIO(stuffed)))
    assert mime == "image/png" and len(kept) < 20_000
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(kept))), np.asarray(image))


def test_a_large_drawing_is_stored_at_most_1024_pixels_a_side():
    huge = Image.new("RGBA", (1800, 1200), (0, 0, 0, 0))
    kept, _ = drawing_as_stored(png_bytes(huge), huge)
    assert Image.open(io.BytesIO(kept)).size == (1024, 683)


def test_a_stuffed_drawing_is_answered_but_only_its_picture_is_kept(tmp_path):
    app = make_app(tmp_path, None, ("digits",))
    client = app.test_client()
    stuffed = with_private_chunk(drawn_one(), 5_000_000)
    answer = client.post(
        "/api/predict",
        json={"image": data_uri(stuffed)},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    app.extensions["modelport"].recorder.flush(timeout=10)
    stored = client.get(f"/api/v1/predictions/{answer.get_json()['id']}/input")
    assert stored.status_code == 200 and stored.mimetype == "image/png"
    assert len(stored.data) < 20_000


def test_a_canvas_beyond_a_sensible_size_is_refused_before_decoding(tmp_path):
    client = make_app(tmp_path, None, ("digits",)).test_client()
    canvas = png_bytes(Image.new("L", (6300, 6300), 255))
    started = time.perf_counter()
    answer = client.post("/api/predict", json={"image": data_uri(canvas)})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "too_many_pixels"
    assert time.perf_counter() - started < 5  # refused from the header, never decoded


def record(store, events) -> None:
    recorder = SqlRecorder(store)
    for one in events:
        recorder.record(one)
    assert recorder.flush(timeout=10)


def test_retention_keeps_the_newest_rows_and_every_prediction_with_feedback(store):
    now = datetime.now(UTC)
    events = [event(created_at=now - timedelta(minutes=10 - i)) for i in range(8)]
    record(store, events)
    oldest = q.get_prediction(store, events[0].id)
    q.save_feedback(store, oldest, "7")
    assert Retention(max_rows=3).enforce(store) == 4
    kept = {row.id for row in q.history(store, q.HistoryFilter(), per_page=100).rows}
    assert kept == {events[0].id} | {e.id for e in events[-3:]}


def test_retention_deletes_predictions_older_than_the_days_it_keeps(store):
    now = datetime.now(UTC)
    old, new = event(created_at=now - timedelta(days=40)), event(created_at=now)
    record(store, [old, new])
    retention = Retention(max_days=30)
    assert retention.due()
    assert retention.enforce(store) == 1
    assert not retention.due()  # once a minute at most
    assert q.get_prediction(store, old.id) is None
    assert q.get_prediction(store, new.id) is not None
    assert not Retention().enabled and not Retention().due()


def test_the_recorder_applies_retention_as_it_writes(store):
    recorder = SqlRecorder(store, retention=Retention(max_rows=2, every_seconds=0.05))
    events = [event(created_at=datetime.now(UTC) - timedelta(seconds=5 - i)) for i in range(5)]
    for one in events:
        recorder.record(one)
    assert recorder.flush(timeout=10)
    deadline = time.monotonic() + 10
    while q.count_predictions(store) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer looks at retention between its writes
    kept = {row.id for row in q.history(store, q.HistoryFilter(), per_page=100).rows}
    assert kept == {events[-1].id, events[-2].id}
    recorder.close()
