"""What the browser tests and the screenshot script share: Debian's Chromium and how it is
started, a page that fails on any console error, and drawing on the canvas with the mouse."""

from __future__ import annotations

import os
from collections.abc import Iterator

CHROMIUM = os.environ.get("MODELPORT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A 7 as fractions of the canvas: one stroke, top bar then down.
SEVEN = [(0.28, 0.22), (0.45, 0.22), (0.72, 0.22), (0.62, 0.45), (0.52, 0.65), (0.45, 0.82)]


def checked_page(context) -> Iterator:
    """A page of ``context`` that fails the test on any console error or uncaught
    exception (its problems are in ``page.console_problems``); the context is closed after."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.console_problems = problems
    yield page
    context.close()
    assert not problems, f"browser console errors: {problems}"


def canvas_point(page, fx: float, fy: float) -> tuple[float, float]:
    """The page coordinates of a point given as fractions of the drawing canvas."""
    box = page.locator("#pad").bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def pen_down_along(page, points: list[tuple[float, float]], steps: int = 8) -> None:
    """Put the pen down and move it along ``points``, leaving it down."""
    page.mouse.move(*canvas_point(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*canvas_point(page, *point), steps=steps)


def draw(page, *strokes: list[tuple[float, float]], steps: int = 8) -> None:
    """Each stroke drawn with the mouse, the pen lifted after it."""
    for stroke in strokes:
        pen_down_along(page, stroke, steps)
        page.mouse.up()
