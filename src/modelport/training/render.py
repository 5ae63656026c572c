"""Held-out digits drawn the way real clients send them: a PNG data URI from a canvas.

Each 28x28 MNIST digit becomes a drawing on a canvas of 200x200 to 560x560 or a
non-square one, at a random position, 35-85% of the canvas height, in black, blue, red or
grey ink on a transparent or an opaque white ground, with a thin to thick stroke. The
stroke comes about in one of two ways: the digit's centre line redrawn with a round pen
of the chosen width (what a canvas pen does), or the digit's own shape grown or shrunk by
a distance (keeping its varying thickness). Edges are anti-aliased like a canvas's.

No PyTorch here: the benchmark and the tests use this module.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

CANVASES: tuple[tuple[int, int], ...] = (
    (200, 200),
    (280, 280),
    (300, 300),
    (400, 400),
    (480, 480),
    (560, 560),
    (320, 240),
    (240, 320),
    (480, 360),
)
INKS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "blue": (37, 99, 235),
    "red": (220, 38, 38),
    "grey": (128, 128, 128),
}
HEIGHT_SHARE = (0.35, 0.85)
PEN_SHARE = (0.025, 0.22)  # pen width as a share of the digit's height (log-uniform)
MIN_PEN = 1.5  # pixels: the thinnest line a canvas pen draws
RENDER_SEED = 7


@dataclass(frozen=True)
class Rendering:
    """One drawing: the PNG data URI and how it was made (for reports on failures)."""

    data_uri: str
    label: int
    canvas: tuple[int, int]
    height: int
    pen: float
    style: str
    ink: str
    background: str


def render_digit(image: np.ndarray, label: int, rng: np.random.Generator) -> Rendering:
    """Draw one 28x28 uint8 digit (white on black) on a random canvas, as a client would."""
    width, height = CANVASES[rng.integers(len(CANVASES))]
    share = rng.uniform(*HEIGHT_SHARE)
    ink_name = list(INKS)[rng.integers(len(INKS))]
    background = "transparent" if rng.random() < 0.5 else "white"
    style = "pen" if rng.random() < 0.5 else "offset"
    pen_share = float(np.exp(rng.uniform(*np.log(PEN_SHARE))))

    glyph = _crop(np.asarray(image, dtype=np.float32) / 255.0)
    digit_h = max(8, int(round(share * height)))
    digit_w = max(1, int(round(digit_h * glyph.shape[1] / glyph.shape[0])))
    if digit_w > width * 0.95:  # a wide digit on a narrow canvas: shrink to fit
        digit_w = int(width * 0.95)
        digit_h = max(8, int(round(digit_w * glyph.shape[0] / glyph.shape[1])))
    pen = max(MIN_PEN, pen_share * digit_h)
    ink = _fit(_crop(_stroke(glyph, digit_h, digit_w, pen, style)), digit_h, int(width * 0.98))

    canvas = np.zeros((height, width), dtype=np.float32)
    ih, iw = ink.shape
    top = int(rng.integers(0, height - ih + 1))
    left = int(rng.integers(0, width - iw + 1))
    canvas[top : top + ih, left : left + iw] = ink
    return Rendering(
        data_uri=png_data_uri(canvas, INKS[ink_name], background == "transparent"),
        label=int(label),
        canvas=(width, height),
        height=digit_h,
        pen=round(float(pen), 2),
        style=style,
        ink=ink_name,
        background=background,
    )


def render_set(
    images: np.ndarray, labels: np.ndarray, seed: int = RENDER_SEED, limit: int | None = None
) -> list[Rendering]:
    """Renderings of the first ``limit`` digits (all by default), one per digit, reproducible."""
    count = len(labels) if limit is None else min(limit, len(labels))
    return [
        render_digit(images[i], int(labels[i]), np.random.default_rng([seed, i]))
        for i in range(count)
    ]


def png_data_uri(ink: np.ndarray, colour: tuple[int, int, int], transparent: bool) -> str:
    """Ink coverage in [0, 1] painted in ``colour``, as a canvas's ``toDataURL()`` gives it."""
    alpha = np.clip(ink * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if transparent:
        rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
        rgba[..., :3] = np.where(alpha[..., None] > 0, np.array(colour, np.uint8), 0)
        rgba[..., 3] = alpha
        picture = Image.fromarray(rgba, "RGBA")
    else:
        cover = ink[..., None]
        rgb = 255.0 * (1 - cover) + np.array(colour, np.float32) * cover
        picture = Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _crop(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero((ink > 0.1).any(axis=1))
    cols = np.flatnonzero((ink > 0.1).any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit(ink: np.ndarray, height: int, max_width: int) -> np.ndarray:
    """The stroked digit scaled so its ink is ``height`` tall (the pen adds to the glyph)."""
    scale = min(height / ink.shape[0], max_width / ink.shape[1])
    if abs(scale - 1) < 0.02:
        return ink
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    picture = Image.fromarray(ink, "F").resize(size, Image.Resampling.BILINEAR)
    return np.clip(np.asarray(picture, dtype=np.float32), 0.0, 1.0)


def _stroke(glyph: np.ndarray, height: int, width: int, pen: float, style: str) -> np.ndarray:
    """The glyph at ``height`` x ``width`` pixels drawn with a stroke about ``pen`` wide."""
    margin = int(np.ceil(pen)) + 2
    picture = Image.fromarray(glyph, "F").resize((width, height), Image.Resampling.BICUBIC)
    shape = np.pad(np.asarray(picture) > 0.45, margin)
    if style == "pen":
        centre = skeletonize(shape)
        if not centre.any():
            centre = shape
        distance = ndimage.distance_transform_edt(~centre)
        return np.clip(pen / 2 - distance + 0.5, 0.0, 1.0).astype(np.float32)
    # offset: move the outline so the digit's typical stroke becomes ``pen`` wide
    inside = ndimage.distance_transform_edt(shape)
    outside = ndimage.distance_transform_edt(~shape)
    signed = outside - inside  # < 0 inside the shape
    typical = 2.0 * float(np.median(inside[_ridge(inside)])) if shape.any() else pen
    grow = (pen - typical) / 2
    grow = max(grow, -0.2 * typical)  # shrink, but never so far that thin parts break off
    return np.clip(grow - signed + 0.5, 0.0, 1.0).astype(np.float32)


def _ridge(inside: np.ndarray) -> np.ndarray:
    """Points on the centre line of the shape (local maxima of the inner distance)."""
    peak = ndimage.maximum_filter(inside, size=3)
    return (inside > 0) & (inside >= peak)
