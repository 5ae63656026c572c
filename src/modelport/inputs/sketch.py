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
WORK_SCALE = 3  # large drawings are pooled down to between 3 and 6 times the box first


def ink_from_image(image: Image.Image) -> np.ndarray:
    """Ink strength per pixel as uint8 levels, 0 where nothing is drawn (for a drawing in
    the alpha channel, only the box around what is drawn).

    Transparency carries the drawing when the image has any; otherwise ink is whatever
    differs from the background colour (taken from the border), so dark ink on a light
    ground and light ink on a dark one both work, in any colour. Faint ink is not
    stretched here: :func:`fit_to_box` scales the fitted ink so its strongest pixel is 1.
    """
    alpha = _alpha_channel(image)
    if alpha is not None and _has_transparency(alpha):
        # Only the box around non-zero alpha can hold ink, and every caller crops to the
        # ink next: Pillow finds that box without converting the canvas.
        box = alpha.getbbox()
        if box is None:
            raise _nothing_drawn()
        ink = np.asarray(alpha.crop(box))
    else:
        ink = np.asarray(_distance_from_background(image.convert("RGB")))
    if int(ink.max()) < MIN_CONTRAST * 255:
        raise _nothing_drawn()
    return ink


def as_levels(ink: np.ndarray) -> np.ndarray:
    """uint8 levels as they are; float ink in [0, 1] rounded to levels."""
    if ink.dtype == np.uint8:
        return ink
    return np.clip(ink * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _at_least(levels: np.ndarray, share: float) -> np.ndarray:
    """Where ink is stronger than ``share`` of the strongest (an integer comparison)."""
    return levels > np.uint8(int(share * int(levels.max())))


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding all the ink (uint8 levels); an empty drawing is an
    error."""
    levels = as_levels(ink)
    mask = _at_least(levels, 0.25)
    if int(np.count_nonzero(mask)) < MIN_INK_PIXELS:
        raise _nothing_drawn()
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return levels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stroke_width(levels: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the outline of the inked shape."""
    mask = _at_least(levels, 0.5)
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    outline = int(np.count_nonzero(mask[:, 1:] != mask[:, :-1])) + int(
        np.count_nonzero(mask[1:, :] != mask[:-1, :])
    )
    outline += 2 * (
        int(np.count_nonzero(mask[:, 0]))
        + int(np.count_nonzero(mask[:, -1]))
        + int(np.count_nonzero(mask[0, :]))
        + int(np.count_nonzero(mask[-1, :]))
    )
    return 2.0 * area / max(outline, 1)


def fit_to_box(levels: np.ndarray, box: int, min_stroke: float) -> np.ndarray:
    """Scale cropped ink (uint8 levels) so its longer side is ``box`` pixels, aspect kept;
    float32 with the strongest pixel 1.

    A thin pen on a large canvas would fade to nothing when shrunk, so strokes that would
    end up thinner than ``min_stroke`` are widened first. A large drawing is max-pooled to
    a few times the box before that: no stroke fades in pooling, and measuring and
    widening strokes then touches a fraction of the pixels (a ninth on a 280x280 canvas).
    """
    levels = max_pool(levels, max(levels.shape) // (WORK_SCALE * box))
    height, width = levels.shape
    scale = box / max(height, width)
    grow = min_stroke / scale - stroke_width(levels)
    if grow >= 1.0:
        levels = dilate(levels, int(round(grow / 2)))
    picture = Image.fromarray(np.ascontiguousarray(levels), "L")
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(picture.resize(new_size, resample), dtype=np.float32)
    peak = float(small.max())
    return small * (1 / peak) if peak > 0 else small


def max_pool(levels: np.ndarray, factor: int) -> np.ndarray:
    """Each ``factor`` x ``factor`` block (zero-padded at the edges) as its strongest level."""
    if factor < 2:
        return levels
    height, width = levels.shape
    padded = np.zeros((-(-height // factor) * factor, -(-width // factor) * factor), np.uint8)
    padded[:height, :width] = levels
    rows = padded[::factor].copy()
    for offset in range(1, factor):
        np.maximum(rows, padded[offset::factor], out=rows)
    pooled = rows[:, ::factor].copy()
    for offset in range(1, factor):
        np.maximum(pooled, rows[:, offset::factor], out=pooled)
    return pooled


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


def to_mnist(ink: np.ndarray, size: tuple[int, int] = (MNIST_SIZE, MNIST_SIZE)) -> np.ndarray:
    """``size`` (width, height; 28x28 by default) float32 in [0, 1]: the ink fit to a box of
    20/28 of the shorter side, centred by its centre of mass, as MNIST's digits are."""
    width_out, height_out = size
    side = min(width_out, height_out)
    box = max(1, round(side * MNIST_BOX / MNIST_SIZE))
    small = fit_to_box(crop_to_ink(ink), box, MNIST_MIN_STROKE * side / MNIST_SIZE)
    height, width = small.shape
    total = float(small.sum())
    rows, cols = np.arange(height), np.arange(width)
    centre_row = float(small.sum(axis=1) @ rows) / total
    centre_col = float(small.sum(axis=0) @ cols) / total
    top = min(max(round(height_out / 2 - 0.5 - centre_row), 0), height_out - height)
    left = min(max(round(width_out / 2 - 0.5 - centre_col), 0), width_out - width)
    canvas = np.zeros((height_out, width_out), dtype=np.float32)
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


def _has_transparency(alpha: Image.Image) -> bool:
    # A canvas's corners are transparent unless its page painted a background: looking
    # there first spares a pass over every pixel of most drawings.
    right, bottom = alpha.width - 1, alpha.height - 1
    corners = [alpha.getpixel(xy) for xy in ((0, 0), (right, 0), (0, bottom), (right, bottom))]
    return min(corners) < 255 or alpha.getextrema()[0] < 255


def _alpha_channel(image: Image.Image) -> Image.Image | None:
    if image.mode in {"RGBA", "LA", "PA"}:
        return image.getchannel("A")
    if "transparency" in image.info:
        return image.convert("RGBA").getchannel("A")
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
