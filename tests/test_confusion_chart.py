"""The model card's confusion matrix stays readable with many or long class names: its tick
labels, measured by matplotlib's own renderer, neither overlap nor leave the picture."""

from __future__ import annotations

import io
from itertools import combinations

import pytest
from conftest import data_uri, drawn_one
from PIL import Image

from modelport.store import queries as q
from modelport.web.chart import confusion_figure, render_confusion_chart

LONG = "a rather long class name with several words, number {:02d}"


def long_names(n: int) -> list[str]:
    return [LONG.format(i) for i in range(n)]


def judged(labels: list[str]) -> q.Confusion:
    n = len(labels)
    counts = [
        [(row * 7 + col * 3) % 5 if row != col else 9 for col in range(n)] for row in range(n)
    ]
    return q.Confusion(labels=labels, counts=counts)


def drawn(matrix: q.Confusion, title: str = ""):
    figure = confusion_figure(matrix, title)
    figure.canvas.draw()
    return figure, figure.canvas.get_renderer()


def boxes(texts, renderer):
    return [text.get_window_extent(renderer) for text in texts if text.get_text()]


def overlapping(extents) -> list[tuple[int, int]]:
    return [
        (i, j)
        for (i, a), (j, b) in combinations(enumerate(extents), 2)
        if min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)
    ]


def outside(extents, figure) -> list[int]:
    edge = figure.bbox
    return [
        i
        for i, box in enumerate(extents)
        if box.x0 < edge.x0 or box.y0 < edge.y0 or box.x1 > edge.x1 or box.y1 > edge.y1
    ]


@pytest.mark.parametrize("classes", [3, 10, 20])
def test_long_class_names_neither_overlap_nor_leave_the_picture(classes):
    figure, renderer = drawn(judged(long_names(classes)), "digits-knn: 123 judged predictions")
    axes = figure.axes[0]
    columns = boxes(axes.get_xticklabels(), renderer)
    rows = boxes(axes.get_yticklabels(), renderer)
    assert len(columns) == len(rows) == classes
    assert overlapping(columns) == []
    assert overlapping(rows) == []
    assert outside(columns + rows, figure) == []
    assert outside(boxes([axes.title, axes.xaxis.label, axes.yaxis.label], renderer), figure) == []


def test_long_names_end_in_an_ellipsis_and_short_ones_are_kept():
    figure, _ = drawn(judged(["cat", LONG.format(1)]))
    shown = [text.get_text() for text in figure.axes[0].get_xticklabels()]
    assert shown[0] == "cat"
    assert shown[1].endswith("\u2026") and len(shown[1]) < len(LONG.format(1))
    assert LONG.format(1).startswith(shown[1][:-1])


def test_the_picture_grows_with_the_number_of_classes():
    sizes = [tuple(confusion_figure(judged(long_names(n))).get_size_inches()) for n in (3, 10, 20)]
    assert sizes[0][0] < sizes[1][0] < sizes[2][0]
    assert sizes[0][1] < sizes[1][1] < sizes[2][1]


def test_short_labels_such_as_digits_are_written_upright():
    figure, renderer = drawn(judged([str(d) for d in range(10)]))
    ticks = figure.axes[0].get_xticklabels()
    assert {text.get_rotation() for text in ticks} == {0.0}
    assert overlapping(boxes(ticks, renderer)) == []


def test_the_png_is_the_figure_as_drawn():
    png = render_confusion_chart(judged(long_names(20)), "efficientnet-lite0: 400 judged")
    picture = Image.open(io.BytesIO(png))
    figure = confusion_figure(judged(long_names(20)))
    assert picture.format == "PNG"
    assert picture.size == figure.canvas.get_width_height()


@pytest.mark.parametrize("text", ["$", "$\\frac$", "a$^$b"])
def test_dollars_in_labels_and_titles_are_written_as_text(text):
    figure, _ = drawn(judged([text, "b"]), f"{text}: 6 judged")
    assert figure.axes[0].get_xticklabels()[0].get_text() == text
    assert render_confusion_chart(judged([text, "b"]), text)[:4] == b"\x89PNG"


def test_nothing_judged_yet_is_still_a_picture():
    png = render_confusion_chart(q.Confusion(labels=[], counts=[]), "nothing yet")
    assert Image.open(io.BytesIO(png)).size[0] > 200


def test_the_model_card_shows_the_matrix_and_links_to_it_at_full_size(app, client):
    made = client.post(
        "/api/v1/models/digits-knn/predict",
        json={"image": data_uri(drawn_one())},
        headers={"Accept": "application/json"},
    ).get_json()
    assert app.extensions["modelport"].recorder.flush(timeout=10)
    said = client.post(f"/api/v1/predictions/{made['id']}/feedback", json={"label": "7"})
    assert said.status_code == 200, said.get_json()

    card = client.get("/models/digits-knn").get_data(as_text=True)
    assert 'id="confusion-matrix" src="/models/digits-knn/confusion.png"' in card
    assert '<a href="/models/digits-knn/confusion.png" id="confusion-full-size">' in card
    png = client.get("/models/digits-knn/confusion.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    store, labels = app.extensions["modelport_store"], [str(d) for d in range(10)]
    figure = confusion_figure(q.confusion(store, "digits-knn", labels))
    assert Image.open(io.BytesIO(png.data)).size == figure.canvas.get_width_height()
