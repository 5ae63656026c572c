"""Top classes as a horizontal bar chart PNG, for reports and API users.

Rendered with matplotlib's Agg canvas on a ``Figure`` object (never ``pyplot``, whose
global state is not for servers), entirely in memory. Agg's font caches are not
thread-safe, so one lock serialises rendering: a chart takes tens of milliseconds.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from modelport.inputs import InputError

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
        figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, facecolor="white")
        FigureCanvasAgg(figure)
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


def _shorten(text: str, limit: int = LABEL_SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
