"""The confusion matrix as a PNG, drawn with matplotlib's Agg backend (no display needed).

``Figure`` is used directly rather than ``pyplot``: pyplot keeps global state, which
request threads drawing at once would share.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from modelport.store.queries import Confusion

# Model names and labels are shown as written, never parsed as TeX math ("$...$"), which
# failed on some labels and titles.
PLAIN = {"parse_math": False, "usetex": False}
MAX_TICK_CHARS = 30


def confusion_png(matrix: Confusion, title: str = "") -> bytes:
    n = len(matrix.labels)
    if n == 0:  # nothing judged yet among a model's many classes: say so in the picture
        return _empty_png(title)
    counts = np.asarray(matrix.counts, dtype=float).reshape(n, n)
    names = [_shorten(label) for label in matrix.labels]
    side = min(9.0, max(3.5, 0.45 * n + 2.0))
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues", vmin=0, vmax=max(1.0, counts.max(initial=0)))
    axes.set_xticks(range(n), names, rotation=90 if n > 10 else 0, fontsize=8, **PLAIN)
    axes.set_yticks(range(n), names, fontsize=8, **PLAIN)
    axes.set_xlabel("predicted")
    axes.set_ylabel("what people said it was")
    if title:
        axes.set_title(_shorten(title, 70), fontsize=10, **PLAIN)
    threshold = counts.max(initial=0) / 2
    for row in range(n):
        for col in range(n):
            if counts[row, col]:
                axes.text(
                    col,
                    row,
                    f"{int(counts[row, col])}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if counts[row, col] > threshold else "black",
                )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _empty_png(title: str) -> bytes:
    figure = Figure(figsize=(4.5, 1.6), dpi=100)
    FigureCanvasAgg(figure)
    if title:
        figure.text(0.5, 0.72, _shorten(title, 60), ha="center", fontsize=10, **PLAIN)
    figure.text(0.5, 0.35, "Nobody has judged a prediction yet.", ha="center", color="0.4")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _shorten(text: str, limit: int = MAX_TICK_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
