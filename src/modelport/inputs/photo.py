"""A decoded photo to the input of an ImageNet CNN trained like EfficientNet-Lite.

EfficientNet-Lite was trained in TensorFlow with a centre crop of 224/256 of the shorter
side, resized to 224x224 with bicubic filtering, and pixels mapped by (x - 127) / 128
into [-1, 1] (not ImageNet's mean and standard deviation). Doing the crop and the resize
in one Pillow call (``resize(box=...)``) keeps it to a few milliseconds even for a large
photo; JPEG draft decoding in ``decode.open_photo`` has already made it small.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

INPUT_SIZE = 224
CROP_FRACTION = 224 / 256
MEAN = 127.0
SCALE = 128.0
BACKGROUND = (255, 255, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: transparency over white, 16-bit scaled, CMYK converted.

    Pillow's own ``convert("RGB")`` clips 16-bit greyscale to white and makes transparent
    pixels whatever colour they happen to hold, so those cases are done here.
    """
    if image.mode == "RGB":
        return image
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        image.mode in {"P", "L", "RGB"} and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(ground, rgba).convert("RGB")
    return image.convert("RGB")


def crop_box(width: int, height: int, fraction: float = CROP_FRACTION) -> tuple[float, ...]:
    """The centred square, ``fraction`` of the shorter side, that the model looks at."""
    side = min(width, height) * fraction
    left = (width - side) / 2
    top = (height - side) / 2
    return (left, top, left + side, top + side)


def to_efficientnet(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """A photo to ``(3, size, size)`` float32 in [-1, 1], channels first."""
    rgb = to_rgb(image)
    square = rgb.resize(
        (size, size), Image.Resampling.BICUBIC, box=crop_box(*rgb.size), reducing_gap=3.0
    )
    pixels = np.asarray(square, dtype=np.float32)
    return np.ascontiguousarray(((pixels - MEAN) / SCALE).transpose(2, 0, 1))


def thumbnail_jpeg(image: Image.Image, size: tuple[int, int], quality: int = 85) -> bytes:
    """A small JPEG of the photo to show back to its sender, whatever its format or mode.

    A photo larger than ``size`` is reduced by the whole factor that brings it within
    ``size`` (each k x k block averaged, so between half of ``size`` and ``size``): a fifth
    of the CPU of a bilinear resize to exactly ``size``, and as clean for a thumbnail.
    """
    shown = to_rgb(image)
    factor = max(math.ceil(shown.width / size[0]), math.ceil(shown.height / size[1]))
    if factor > 1:
        shown = shown.reduce(factor)
    buffer = io.BytesIO()
    shown.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
