"""Real photos (scikit-image's chelsea and coffee) in every format and oddity a browser may send.

Made in memory from the two photos, so the tests need no data files and no network.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import skimage.data
from PIL import Image

# ImageNet's five domestic cat classes (synsets n02123045 to n02124075).
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
COFFEE_CLASSES = {"espresso", "cup"}


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@cache
def chelsea() -> Image.Image:
    return Image.fromarray(skimage.data.chelsea())


@cache
def coffee() -> Image.Image:
    return Image.fromarray(skimage.data.coffee())


@cache
def chelsea_jpeg() -> bytes:
    return encode(chelsea(), "JPEG", quality=92)


@cache
def coffee_jpeg() -> bytes:
    return encode(coffee(), "JPEG", quality=92)


@cache
def big_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12-megapixel camera-sized JPEG of the cat."""
    return encode(chelsea().resize((width, height), Image.Resampling.BILINEAR), "JPEG", quality=90)


def animated(fmt: str) -> bytes:
    """Two frames: the cat first, then the coffee; the first frame is the one classified."""
    frames = [chelsea(), coffee().resize(chelsea().size)]
    if fmt == "GIF":
        frames = [f.quantize(256) for f in frames]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=200, loop=0)


def cmyk_jpeg() -> bytes:
    return encode(chelsea().convert("CMYK"), "JPEG", quality=92)


def png16() -> bytes:
    """16-bit greyscale: Pillow's plain ``convert("RGB")`` would make it almost all white."""
    grey = np.asarray(chelsea().convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(grey.astype(np.uint16)), "PNG")


def palette_png_with_transparency() -> bytes:
    """The cat on a transparent margin, as a 256-colour palette PNG with a tRNS chunk."""
    width, height = chelsea().size
    canvas = Image.new("RGBA", (width + 120, height + 120), (0, 0, 0, 0))
    canvas.paste(chelsea(), (60, 60))
    palette = canvas.quantize(255, method=Image.Quantize.FASTOCTREE)
    return encode(palette, "PNG", transparency=palette.getpixel((0, 0)))


def truncated_jpeg() -> bytes:
    data = chelsea_jpeg()
    return data[: len(data) // 2]
