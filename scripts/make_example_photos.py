"""The example photos of the /photo page, made from sample photos already installed.

    .venv/bin/python scripts/make_example_photos.py

Each one comes from a package's own sample data (scikit-image's data folder, scikit-learn's
``load_sample_image``), nothing is downloaded. They are made small (320 px on the long
side, JPEG quality 80) so that the page's thumbnails and the file an example sends stay
light. Where each photo comes from and its licence: SOURCES.md beside them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_image

OUT = Path(__file__).resolve().parents[1] / "src/modelport/web/static/examples/photos"
LONG_SIDE = 320
QUALITY = 80

# File name: the pixels, from the package's own sample data. The flower is cropped to the
# daisy in its middle: with the leaves around it EfficientNet-Lite0 sees a mushroom.
SOURCES = {
    "cat.jpg": skimage.data.chelsea,
    "coffee.jpg": skimage.data.coffee,
    "palace.jpg": lambda: load_sample_image("china.jpg"),
    "daisy.jpg": lambda: load_sample_image("flower.jpg")[:, 100:540],
    "tripod.jpg": skimage.data.camera,
}


def small_jpeg(pixels: np.ndarray) -> bytes:
    """The photo at ``LONG_SIDE`` px on its long side, as a baseline JPEG without metadata."""
    image = Image.fromarray(pixels).convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
    return buffer.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, pixels in SOURCES.items():
        data = small_jpeg(pixels())
        (OUT / name).write_bytes(data)
        print(f"{OUT / name}: {len(data) / 1024:.1f} kB")


if __name__ == "__main__":
    main()
