"""A drawing of a digit, from any canvas, to the arrays the digit models take.

Whatever the client sends (any canvas size or aspect ratio, ink in the alpha channel or
in colour on a light or dark ground, the digit anywhere and of any size) goes through the
same steps: find the ink, crop to it, scale it to fit a box with its aspect kept, and
centre it. ``to_mnist`` gives the 28x28 MNIST layout (a 20x20 box centred by mass);
``to_digits8`` gives scikit-learn's 8x8 digits (a 32x32 bitmap counted in 4x4 blocks).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops

from modelport.inputs.errors import InputError

MIN_CONTRAST = 0.12  # weakest ink, as a share of full scale, that still counts as drawn
MIN_INK_PIXELS = 4
MNIST_SIZE = 28
MNIST_BOX = 20
MNIST_MIN_STROKE = 1.8  # thinnest stroke, in 28x28 pixels, the CNN sees
BITMAP_SIZE = 32
BITMAP_MIN_STROKE = 3.0  # in 32x32 pixels: NIST's pen filled most of a 4x4 block


def ink_from_image(image: Image.Image) -> np.ndarray:
    """Ink strength per pixel, float32 in [0, 1] with 1 the strongest ink (for a drawing
    in the alpha channel, only the box around what is drawn).

    Transparency carries the drawing when the image has any; otherwise ink is whatever
    differs from the background colour (taken from the border), so dark ink on a light
    ground and light ink on a dark one both work, in any colour.
    """
    alpha = _alpha_channel(image)
    if alpha is not None and _has_transparency(alpha):
        # Only the box around non-zero alpha can hold ink, and every caller crops to the
        # ink next: converting just that box to float saves most of the work on a canvas.
        ink = _nonzero_box(alpha).astype(np.float32) * (1 / 255)
    else:
        ink = np.asarray(_distance_from_background(image.convert("RGB")), dtype=np.float32)
        ink *= 1 / 255
    strongest = float(ink.max())
    if strongest < MIN_CONTRAST:
        raise _nothing_drawn()
    if strongest < 1.0:
        ink *= 1 / strongest
    return ink


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding all the ink; an empty drawing is an error."""
    mask = ink > 0.25
    if int(np.count_nonzero(mask)) < MIN_INK_PIXELS:
        raise _nothing_drawn()
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the outline of the inked shape."""
    mask = ink > 0.5
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    outline = int(np.count_nonzero(mask[:, 1:] != mask[:, :-1])) + int(
        np.count_nonzero(mask[1:, :] != mask[:-1, :])
    )
    outline += 2 * int(mask[:, 0].sum() + mask[:, -1].sum() + mask[0, :].sum() + mask[-1, :].sum())
    return 2.0 * area / max(outline, 1)


def fit_to_box(ink: np.ndarray, box: int, min_stroke: float) -> np.ndarray:
    """Scale cropped ink so its longer side is ``box`` pixels, aspect kept.

    A thin pen on a large canvas would fade to nothing when shrunk, so strokes that would
    end up thinner than ``min_stroke`` are widened first.
    """
    height, width = ink.shape
    scale = box / max(height, width)
    grow = min_stroke / scale - stroke_width(ink)
    # Rounding to 8 bits keeps the order of values, so dilating after it gives the same
    # pixels as before it, on arrays a quarter of the size.
    levels = np.clip(ink * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if grow >= 1.0:
        levels = dilate(levels, int(round(grow / 2)))
    picture = Image.fromarray(levels, "L")
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(picture.resize(new_size, resample), dtype=np.float32) * (1 / 255)
    peak = float(small.max())
    return small / peak if peak > 0 else small


def dilate(ink: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a square of side ``2 * radius + 1``, done as two 1-D passes."""
    wide = ink.copy()
    for shift in range(1, radius + 1):
        np.maximum(wide[:, shift:], ink[:, :-shift], out=wide[:, shift:])
        np.maximum(wide[:, :-shift], ink[:, shift:], out=wide[:, :-shift])
    grown = wide.copy()
    for shift in range(1, radius + 1):
        np.maximum(grown[shift:], wide[:-shift], out=grown[shift:])
        np.maximum(grown[:-shift], wide[shift:], out=grown[:-shift])
    return grown


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """28x28 float32 in [0, 1]: the ink fit to a 20x20 box, centred by its centre of mass."""
    small = fit_to_box(crop_to_ink(ink), MNIST_BOX, MNIST_MIN_STROKE)
    height, width = small.shape
    total = float(small.sum())
    rows, cols = np.arange(height), np.arange(width)
    centre_row = float(small.sum(axis=1) @ rows) / total
    centre_col = float(small.sum(axis=0) @ cols) / total
    half = MNIST_SIZE / 2 - 0.5
    top = int(np.clip(round(half - centre_row), 0, MNIST_SIZE - height))
    left = int(np.clip(round(half - centre_col), 0, MNIST_SIZE - width))
    canvas = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    canvas[top : top + height, left : left + width] = small
    return canvas


def to_digits8(ink: np.ndarray) -> np.ndarray:
    """8x8 float32 in [0, 16] like scikit-learn's digits: a 32x32 bitmap counted in 4x4 blocks."""
    small = fit_to_box(crop_to_ink(ink), BITMAP_SIZE, BITMAP_MIN_STROKE)
    height, width = small.shape
    bitmap = np.zeros((BITMAP_SIZE, BITMAP_SIZE), dtype=np.float32)
    top, left = (BITMAP_SIZE - height) // 2, (BITMAP_SIZE - width) // 2
    bitmap[top : top + height, left : left + width] = small > 0.4
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))


def preview_png_array(sample: np.ndarray, top: float) -> np.ndarray:
    """A uint8 picture of what a model saw (white ink on black), scaled from ``[0, top]``."""
    return np.clip(sample * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)


def _has_transparency(alpha: np.ndarray) -> bool:
    # A canvas's corners are transparent unless its page painted a background: looking
    # there first spares a pass over every pixel of most drawings.
    corners = (alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1])
    return min(corners) < 255 or bool(alpha.min() < 255)


def _nonzero_box(values: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(values.any(axis=1))
    if len(rows) == 0:
        return values
    cols = np.flatnonzero(values.any(axis=0))
    return values[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _alpha_channel(image: Image.Image) -> np.ndarray | None:
    if image.mode in {"RGBA", "LA", "PA"}:
        return np.asarray(image.getchannel("A"))
    if "transparency" in image.info:
        return np.asarray(image.convert("RGBA").getchannel("A"))
    return None


def _distance_from_background(rgb: Image.Image) -> Image.Image:
    """Per pixel, the largest channel difference from the border's median colour."""
    pixels = np.asarray(rgb)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = tuple(int(v) for v in np.median(border, axis=0))
    red, green, blue = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background)).split()
    return ImageChops.lighter(ImageChops.lighter(red, green), blue)


def _nothing_drawn() -> InputError:
    return InputError("empty_drawing", "Nothing is drawn: draw a digit first.", 422)
