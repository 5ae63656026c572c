"""Top classes as a horizontal bar chart PNG, for reports and API users, and the model
card's confusion matrix.

Rendered with matplotlib's Agg canvas on a ``Figure`` object (never ``pyplot``, whose
global state is not for servers), entirely in memory. Agg's font caches are not
thread-safe, so one lock serialises rendering: a chart takes tens of milliseconds.
matplotlib is imported by the first chart, not with the app: it was a tenth of a start.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from modelport.inputs import InputError
from modelport.store.queries import Confusion

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_BARS = 20
MAX_LABEL_CHARS = 80
LABEL_SHOWN_CHARS = 30
WIDTH_INCHES = 7.2
ROW_INCHES = 0.4
MARGIN_INCHES = 0.15
TITLE_INCHES = 0.45
LABEL_COLUMN = 0.36  # of the width: about 30 characters at 10 points
DPI = 100
BAR_COLOR = "#0d6efd"  # Bootstrap's primary blue, as on the pages
BEST_COLOR = "#198754"  # and its success green for the top class
TRACK_COLOR = "#e9ecef"  # the empty part of a Bootstrap progress bar
# Labels and titles are shown as written: "$...$" would otherwise be parsed as TeX math
# (mathtext), and a label such as "$\frac$" made rendering fail.
PLAIN = {"parse_math": False, "usetex": False}
# A character the font lacks is drawn as a box; anyone may send such labels, and a warning
# for each would fill the log (matplotlib warns once per character).
warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from font", UserWarning)
_lock = threading.Lock()


def check_bars(labels: Sequence[str], scores: Sequence[float]) -> None:
    """Refuse what would make a misleading or unreadable chart, with a sentence saying why."""
    if not labels:
        raise InputError("missing_bars", "Give at least one label and its score.", 400)
    if len(labels) != len(scores):
        raise InputError(
            "invalid_bars", f"{len(labels)} labels but {len(scores)} scores: give one each.", 400
        )
    if len(labels) > MAX_BARS:
        raise InputError("invalid_bars", f"At most {MAX_BARS} bars fit in a chart.", 400)
    if any(not label.strip() or len(label) > MAX_LABEL_CHARS for label in labels):
        raise InputError(
            "invalid_bars", f"Each label must have 1 to {MAX_LABEL_CHARS} characters.", 400
        )
    if any(not math.isfinite(s) or not 0.0 <= s <= 1.0 for s in scores):
        raise InputError("invalid_bars", "Scores are probabilities, from 0 to 1.", 400)


def render_bar_chart(labels: Sequence[str], scores: Sequence[float], title: str = "") -> bytes:
    """A PNG with one horizontal bar per class, best at the top, each with its percentage.

    The layout is fixed (a label column, then the bars) rather than computed by
    matplotlib's layout engines, and the axes are drawn without ticks: that halves the
    time a chart takes.
    """
    check_bars(labels, scores)
    rows = len(labels)
    head = TITLE_INCHES if title else MARGIN_INCHES
    height = head + ROW_INCHES * rows + MARGIN_INCHES
    percents = [100.0 * s for s in scores]
    best = max(range(rows), key=scores.__getitem__)
    with _lock:
        figure = _new_figure(figsize=(WIDTH_INCHES, height))
        axes = figure.add_axes(
            (
                LABEL_COLUMN,
                MARGIN_INCHES / height,
                1 - LABEL_COLUMN - 0.02,
                rows * ROW_INCHES / height,
            )
        )
        axes.barh(range(rows), [100.0] * rows, height=0.7, color=TRACK_COLOR)
        axes.barh(
            range(rows),
            percents,
            height=0.7,
            color=[BEST_COLOR if i == best else BAR_COLOR for i in range(rows)],
        )
        axes.set_xlim(0, 112)
        axes.set_ylim(rows - 0.5, -0.5)
        axes.set_axis_off()
        names = axes.get_yaxis_transform()  # x in axes fractions, y in rows
        for row, (label, percent) in enumerate(zip(labels, percents, strict=True)):
            axes.text(
                -0.02, row, _shorten(label), transform=names, ha="right", va="center", **PLAIN
            )
            axes.text(percent + 1, row, f"{percent:.1f}%", va="center", fontsize=9)
        if title:
            figure.text(0.02, 1 - 0.1 / height, _shorten(title, 70), va="top", fontsize=11, **PLAIN)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _new_figure(**options) -> Figure:
    """A figure on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(dpi=DPI, facecolor="white", **options)
    FigureCanvasAgg(figure)
    return figure


def _shorten(text: str, limit: int = LABEL_SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# The confusion matrix on model cards: rows are what people said, columns what was answered.
TICK_CHARS = 24
TICK_POINTS = 8
UPRIGHT_CHARS = 3  # "0".."9", "cat": written across; longer names stand up the x axis
CELL_INCHES = 0.5
SMALL_CELL_INCHES = 0.3
MATRIX_MIN_INCHES = 2.0
CHAR_EM = 0.62  # a DejaVu Sans character is at most this wide, in ems, on average
AXIS_ROOM_INCHES = 0.7  # an axis title and the gaps beside the tick labels
TITLE_ROOM_INCHES = 0.45
TITLE_POINTS = 10
NUMBER_POINTS = 8


def confusion_figure(matrix: Confusion, title: str = "") -> Figure:
    """The matrix with its class names, sized so that no name overlaps another: the
    picture grows with the number of classes and the length of their names."""
    n = len(matrix.labels)
    names = [_shorten(label, TICK_CHARS) for label in matrix.labels]
    upright = max(map(len, names)) <= UPRIGHT_CHARS
    side = _matrix_inches(n)
    names_room = _text_inches(max(map(len, names)), TICK_POINTS) + AXIS_ROOM_INCHES
    width = side + names_room
    height = side + (AXIS_ROOM_INCHES + 0.2 if upright else names_room) + TITLE_ROOM_INCHES
    figure = _new_figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    counts = np.asarray(matrix.counts, dtype=float).reshape(n, n)
    axes.imshow(counts, cmap="Blues", vmin=0, vmax=max(1.0, counts.max(initial=0)))
    axes.set_xticks(range(n), names, rotation=0 if upright else 90, fontsize=TICK_POINTS, **PLAIN)
    axes.set_yticks(range(n), names, fontsize=TICK_POINTS, **PLAIN)
    axes.set_xlabel("predicted")
    axes.set_ylabel("what people said it was")
    if title:
        limit = int(width / _text_inches(1, TITLE_POINTS))
        axes.set_title(_shorten(title, limit), fontsize=TITLE_POINTS, **PLAIN)
    _write_counts(axes, counts)
    return figure


def render_confusion_chart(matrix: Confusion, title: str = "") -> bytes:
    """The PNG of ``confusion_figure``, or a picture saying nothing is judged yet."""
    with _lock:
        figure = confusion_figure(matrix, title) if matrix.labels else _nothing_judged(title)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _matrix_inches(classes: int) -> float:
    cell = CELL_INCHES if classes <= 10 else SMALL_CELL_INCHES
    return max(MATRIX_MIN_INCHES, cell * classes)


def _text_inches(chars: int, points: float) -> float:
    return chars * CHAR_EM * points / 72


def _write_counts(axes, counts: np.ndarray) -> None:
    dark = counts.max(initial=0) / 2
    for (row, col), count in np.ndenumerate(counts):
        if count:
            colour = "white" if count > dark else "black"
            axes.text(
                col,
                row,
                f"{int(count)}",
                ha="center",
                va="center",
                color=colour,
                fontsize=NUMBER_POINTS,
            )


def _nothing_judged(title: str) -> Figure:
    # Models with many classes (ImageNet's 1000) show only the judged ones: at first, none.
    figure = _new_figure(figsize=(4.5, 1.6))
    if title:
        figure.text(0.5, 0.72, _shorten(title, 60), ha="center", fontsize=TITLE_POINTS, **PLAIN)
    figure.text(0.5, 0.35, "Nobody has judged a prediction yet.", ha="center", color="0.4")
    return figure
