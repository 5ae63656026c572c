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


def confusion_png(matrix: Confusion, title: str = "") -> bytes:
    counts = np.asarray(matrix.counts, dtype=float).reshape(len(matrix.labels), -1)
    n = len(matrix.labels)
    side = min(9.0, max(3.5, 0.45 * n + 2.0))
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues", vmin=0, vmax=max(1.0, counts.max(initial=0)))
    axes.set_xticks(range(n), matrix.labels, rotation=90 if n > 10 else 0, fontsize=8)
    axes.set_yticks(range(n), matrix.labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("what people said it was")
    if title:
        axes.set_title(title, fontsize=10)
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
