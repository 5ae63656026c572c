"""The example drawings of the /draw page, made from held-out handwriting in the repository.

    .venv/bin/python scripts/make_example_drawings.py

Each digit the page offers is the first held-out MNIST digit of its class (never trained
on, ``training.digits_data``) that the ``digits`` model answers rightly and surely, and
the classic ``digits-knn`` (the page's other model) rightly too. It is
drawn as a canvas drawing is sent: black ink in the alpha channel of a transparent
``SIZE``x``SIZE`` PNG (so Undo, the eraser and new strokes mix with it as with any stroke),
the digit scaled up smoothly, and kept small (a few kB).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from modelport.inputs.decode import Limits
from modelport.models.registry import load_one
from modelport.service import predict_bytes
from modelport.training.digits_data import held_out_split

OUT = Path(__file__).resolve().parents[1] / "src/modelport/web/static/examples/digits"
DIGITS = ("0", "3", "5", "7", "8")  # the page's row: different shapes, all common ones
SIZE = 280
SURE = 0.9


def drawing_png(mnist: np.ndarray) -> bytes:
    """A 28x28 white-on-black digit as black ink on a transparent canvas of ``SIZE``."""
    ink = Image.fromarray(mnist, "L").resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    picture = Image.new("LA", (SIZE, SIZE), (0, 0))
    picture.putalpha(ink)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def answered_by_both(png: bytes, digit: str, cnn, knn) -> bool:
    best = predict_bytes(cnn, png, Limits()).best
    if best.label != digit or best.score < SURE:
        return False
    return predict_bytes(knn, png, Limits()).best.label == digit


def first_clear_drawing(images: np.ndarray, labels: np.ndarray, digit: str, cnn, knn) -> bytes:
    for image in images[labels == int(digit)]:
        png = drawing_png(image)
        if answered_by_both(png, digit, cnn, knn):
            return png
    raise SystemExit(f"no held-out {digit} that both digit models answer rightly")


def main() -> None:
    held_out = held_out_split()
    with tempfile.TemporaryDirectory() as store:
        cnn, knn = load_one(Path(store), "digits"), load_one(Path(store), "digits-knn")
        OUT.mkdir(parents=True, exist_ok=True)
        for digit in DIGITS:
            png = first_clear_drawing(held_out.images, held_out.labels, digit, cnn, knn)
            (OUT / f"{digit}.png").write_bytes(png)
            print(f"{digit}.png: {len(png)} bytes")


if __name__ == "__main__":
    main()
