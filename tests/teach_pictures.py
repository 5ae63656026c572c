"""Example pictures for teaching, made at test time from sample photos: crops, mirrors,
other colours and light, so that no two are the same and no data file is needed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def variant(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another look at the same thing: a crop, maybe mirrored, other colours and light."""
    width, height = photo.size
    share = rng.uniform(0.55, 0.9)
    w, h = int(width * share), int(height * share)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    look = photo.crop((x, y, x + w, y + h))
    if rng.random() < 0.5:
        look = ImageOps.mirror(look)
    look = ImageEnhance.Color(look).enhance(rng.uniform(0.6, 1.4))
    return ImageEnhance.Brightness(look).enhance(rng.uniform(0.75, 1.25))


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
