"""The data the ``digits`` CNN learns from, and the fixed part of it that it never sees.

``handwriting-train.npz`` holds 2,500 MNIST digits (28x28 uint8, white ink on black). A
stratified tenth of it, drawn once with :data:`HOLD_OUT_SEED` (independent of any training
seed), is the held-out split: evaluation and the accuracy benchmark use it, training never
does. scikit-learn's 8x8 digits are rendered into the same MNIST layout serving produces.

No PyTorch here: the benchmark and the tests import this module too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from modelport.inputs import sketch

HANDWRITING = Path(__file__).resolve().parents[1] / "data" / "handwriting-train.npz"
HOLD_OUT_SEED = 20_061_998  # fixed forever: changing it would leak held-out digits into training
HOLD_OUT_FRACTION = 0.1
SKLEARN_RENDER_SIZE = 64  # 8x8 blocks rendered at 8 pixels each before normalisation


@dataclass(frozen=True)
class Split:
    """Digits as uint8 28x28 images (white on black), their labels and their rows in the file."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def load_handwriting(path: Path = HANDWRITING) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return data["images"].astype(np.uint8), data["labels"].astype(np.int64)


def held_out_indices(labels: np.ndarray, fraction: float = HOLD_OUT_FRACTION) -> np.ndarray:
    """Rows held out: the same share of every digit, drawn with :data:`HOLD_OUT_SEED`.

    Per-class counts are rounded by largest remainder so they add up to exactly
    ``round(fraction * len(labels))``. NumPy's PCG64 streams are stable across releases.
    """
    rng = np.random.Generator(np.random.PCG64(HOLD_OUT_SEED))
    classes = np.unique(labels)
    wanted = fraction * np.array([np.count_nonzero(labels == c) for c in classes])
    counts = np.floor(wanted).astype(int)
    short = int(round(fraction * len(labels))) - int(counts.sum())
    counts[np.argsort(-(wanted - counts), kind="stable")[:short]] += 1
    chosen = [
        rng.permutation(np.flatnonzero(labels == c))[:n]
        for c, n in zip(classes, counts, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def held_out_split(path: Path = HANDWRITING) -> Split:
    """The 250 held-out digits (10%, stratified): never trained on."""
    images, labels = load_handwriting(path)
    rows = held_out_indices(labels)
    return Split(images[rows], labels[rows], rows)


def training_split(path: Path = HANDWRITING) -> Split:
    """Every digit of the file that is not held out."""
    images, labels = load_handwriting(path)
    keep = np.setdiff1d(np.arange(len(labels)), held_out_indices(labels))
    return Split(images[keep], labels[keep], keep)


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 levels or float ink in [0, 1] to what serving feeds the CNN: ``sketch.to_mnist``
    of each (which takes either as it is)."""
    return np.stack([sketch.to_mnist(picture) for picture in np.asarray(images)]).astype(np.float32)


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits in the MNIST layout, as float32 28x28 in [0, 1].

    Each 8x8 count (0..16 on-pixels of a 4x4 block) is rendered as a smooth 64x64 picture
    (bicubic), its soft ink firmed up so strokes have edges like a drawn line, then passed
    through ``sketch.to_mnist`` like any drawing.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    pictures = []
    for block in digits.images.astype(np.float32) / 16.0:
        small = Image.fromarray(block, "F")
        big = np.asarray(
            small.resize((SKLEARN_RENDER_SIZE, SKLEARN_RENDER_SIZE), Image.Resampling.BICUBIC)
        )
        ink = np.clip((big - 0.2) * 2.5, 0.0, 1.0).astype(np.float32)
        pictures.append(sketch.to_mnist(ink))
    return np.stack(pictures), digits.target.astype(np.int64)


def image_hashes(images: np.ndarray) -> set[str]:
    """SHA-256 of each uint8 image's bytes: to show that two sets share no digit."""
    return {
        hashlib.sha256(np.ascontiguousarray(im, np.uint8).tobytes()).hexdigest() for im in images
    }


def data_sha256(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
