"""The bundled ``digits`` model reads unseen handwriting sent the way real clients send it.

Held-out digits (never trained on) are drawn on canvases of many sizes, positions, pens,
inks and grounds, and posted as PNG data URIs to ``POST /api/predict``; the full set is
``benchmarks/digits_accuracy.py``, here a sample of 200 keeps it quick.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from modelport.training import digits_data, render

SAMPLE = 200


@pytest.fixture(scope="module")
def renderings() -> list[render.Rendering]:
    held_out = digits_data.held_out_split()
    return render.render_set(held_out.images, held_out.labels, limit=SAMPLE)


def _picture(rendering: render.Rendering) -> Image.Image:
    header, payload = rendering.data_uri.split(",", 1)
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def test_renderings_cover_what_clients_send(renderings):
    assert len(renderings) == SAMPLE
    sizes = {r.canvas for r in renderings}
    assert (200, 200) in sizes and (560, 560) in sizes and (320, 240) in sizes
    assert {r.ink for r in renderings} == set(render.INKS)
    assert {r.background for r in renderings} == {"transparent", "white"}
    assert {r.style for r in renderings} == {"pen", "offset"}
    pens = [r.pen / r.height for r in renderings]
    assert min(pens) < 0.04 and max(pens) > 0.18  # thin to thick
    for r in renderings[:40]:
        picture = _picture(r)
        assert picture.size == r.canvas
        assert picture.mode == ("RGBA" if r.background == "transparent" else "RGB")
        ink = np.asarray(picture.convert("RGBA"))
        drawn = ink[..., 3] > 0 if r.background == "transparent" else ink[..., :3].min(-1) < 250
        rows = np.flatnonzero(drawn.any(axis=1))
        share = (rows[-1] - rows[0] + 1) / r.canvas[1]
        assert 0.33 <= share <= 0.87


def test_renderings_are_reproducible(renderings):
    held_out = digits_data.held_out_split()
    again = render.render_set(held_out.images, held_out.labels, limit=5)
    assert [r.data_uri for r in again] == [r.data_uri for r in renderings[:5]]


def _accuracy(client, renderings, model: str) -> tuple[float, list]:
    correct, failed = 0, []
    for r in renderings:
        response = client.post("/api/predict", json={"image": r.data_uri, "model": model})
        text = response.get_data(as_text=True).strip()
        if response.status_code != 200 or not text.isdigit():
            failed.append((response.status_code, text[:100]))
        elif int(text) == r.label:
            correct += 1
    return correct / len(renderings), failed


def test_digits_reads_97_percent_of_unseen_handwriting_through_the_api(client, renderings):
    accuracy, failed = _accuracy(client, renderings, "digits")
    assert failed == []
    assert accuracy >= 0.97, f"digits read {accuracy:.1%} of {len(renderings)} drawings"


def test_the_classic_knn_answers_every_drawing_too(client, renderings):
    accuracy, failed = _accuracy(client, renderings[:50], "digits-knn")
    assert failed == []
    assert accuracy > 0.2  # far below the CNN, but reading, not guessing
