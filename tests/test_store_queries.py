# ruff: noqa: F811 - the fixtures imported from store_support are parameters here
"""History, CSV, feedback, live accuracy, confusion matrix and purge on a real database."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from store_support import database_url, event, store  # noqa: F401 - fixtures

from modelport.store import SqlRecorder, Store
from modelport.store import queries as q
from modelport.store.migrate import current_revision


def fill(store: Store, events) -> list:
    recorder = SqlRecorder(store)
    for item in events:
        recorder.record(item)
    assert recorder.flush(timeout=30)
    assert recorder.stats.failed == 0
    return list(events)


def test_history_is_newest_first_paginated_and_filtered(store):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    made = fill(
        store,
        [
            event(model="digits-knn" if i % 2 else "digits", created_at=start + timedelta(i))
            for i in range(7)
        ],
    )
    first = q.history(store, q.HistoryFilter(), page=1, per_page=3)
    assert first.total == 7 and first.pages == 3
    assert [row.id for row in first.rows] == [e.id for e in made[::-1][:3]]
    last = q.history(store, q.HistoryFilter(), page=3, per_page=3)
    assert [row.id for row in last.rows] == [made[0].id]
    knn = q.history(store, q.HistoryFilter(model="digits-knn"))
    assert knn.total == 3 and {row.model for row in knn.rows} == {"digits-knn"}

    q.save_feedback(store, q.get_prediction(store, made[1].id), "7")  # corrected
    q.save_feedback(store, q.get_prediction(store, made[3].id), "1")  # confirmed
    corrected = q.history(store, q.HistoryFilter(corrected=True))
    assert [row.id for row in corrected.rows] == [made[1].id]
    assert corrected.rows[0].feedback.label == "7"
    assert q.history(store, q.HistoryFilter(corrected=False)).total == 6


def test_feedback_replaces_an_earlier_answer(store):
    (made,) = fill(store, [event(label="1")])
    row = q.get_prediction(store, made.id)
    assert q.save_feedback(store, row, "1").is_correct is True
    again = q.save_feedback(store, row, "7")
    assert (again.label, again.is_correct) == ("7", False)
    assert q.get_prediction(store, made.id).feedback.label == "7"
    assert q.live_accuracy(store, "digits-knn").judged == 1


def test_live_accuracy_and_confusion_count_only_judged_predictions(store):
    made = fill(store, [event(label="1") for _ in range(5)])
    for item, said in zip(made[:4], ["1", "1", "1", "7"], strict=True):
        q.save_feedback(store, q.get_prediction(store, item.id), said)
    accuracy = q.live_accuracy(store, "digits-knn")
    assert (accuracy.right, accuracy.judged, accuracy.accuracy) == (3, 4, 0.75)
    assert q.live_accuracy(store, "digits").accuracy is None
    matrix = q.confusion(store, "digits-knn", [str(d) for d in range(10)])
    assert matrix.counts[1][1] == 3  # said 1, predicted 1
    assert matrix.counts[7][1] == 1  # said 7, predicted 1
    assert matrix.total == 4


def test_confusion_of_a_thousand_classes_keeps_the_ones_that_occur(store):
    labels = [f"class {i}" for i in range(1000)]
    made = fill(store, [event(model="photo", label="class 5", labels=("class 5",))])
    q.save_feedback(store, q.get_prediction(store, made[0].id), "class 900")
    matrix = q.confusion(store, "photo", labels)
    assert matrix.labels == ["class 5", "class 900"]
    assert matrix.counts == [[0, 0], [1, 0]]


def test_csv_export_has_every_matching_row_with_its_feedback(store):
    made = fill(store, [event(label="1") for _ in range(3)])
    q.save_feedback(store, q.get_prediction(store, made[0].id), "7")
    rows = list(csv.DictReader(io.StringIO("".join(q.csv_lines(store, q.HistoryFilter())))))
    assert len(rows) == 3
    corrected = next(row for row in rows if row["id"] == made[0].id)
    assert (corrected["label"], corrected["feedback_label"], corrected["is_correct"]) == (
        "1",
        "7",
        "false",
    )
    uncorrected = q.csv_lines(store, q.HistoryFilter(corrected=False))
    ids = {row["id"] for row in csv.DictReader(io.StringIO("".join(uncorrected)))}
    assert ids == {made[1].id, made[2].id}


def test_purge_keeps_predictions_with_feedback_unless_asked(store):
    old = datetime(2024, 1, 1, tzinfo=UTC)
    new = datetime(2025, 6, 1, tzinfo=UTC)
    made = fill(store, [event(created_at=old) for _ in range(3)] + [event(created_at=new)])
    q.save_feedback(store, q.get_prediction(store, made[0].id), "7")
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    assert q.purge(store, cutoff) == 2
    assert q.count_predictions(store) == 2
    assert q.get_prediction(store, made[0].id).feedback.label == "7"
    assert q.purge(store, cutoff, include_corrections=True) == 1
    assert q.count_predictions(store) == 1
    assert q.get_prediction(store, made[3].id) is not None
    assert q.live_accuracy(store, "digits-knn").judged == 0


def test_migrations_are_at_head_and_safe_to_repeat(store):
    assert current_revision(store) == "0004"
    store.upgrade()
    assert current_revision(store) == "0004"


def test_workers_starting_together_migrate_once(database_url):
    """Four processes upgrade the same fresh database at the same moment."""
    script = "import sys; from modelport.store import Store; Store(sys.argv[1]).upgrade()"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, database_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert current_revision(Store(database_url)) == "0004"
