"""``digits``: the default digit model, a small CNN trained on MNIST handwriting and served
with ONNX Runtime. ``modelport train digits`` makes it; one trained that way ships with
Modelport so the app starts without training.

The ONNX graph takes ``(N, 1, 28, 28)`` float32 ink in [0, 1] (MNIST layout, see
``inputs.sketch.to_mnist``) and returns ``(N, 10)`` probabilities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from modelport.inputs import sketch
from modelport.models.base import Model, ModelInfo
from modelport.models.onnx_runtime import OnnxClassifier
from modelport.models.store import ModelStore

NAME = "digits"
ARTIFACT = "model.onnx"
LABELS = [str(d) for d in range(10)]


def load(store: ModelStore, threads: int = 1, **_: object) -> DigitsCnn:
    path = store.find(NAME, ARTIFACT)
    if path is None:
        raise FileNotFoundError(
            f"No {NAME} model in {store.root} or the package: run `modelport train {NAME}`."
        )
    return DigitsCnn(path, store.metrics(path), threads)


class DigitsCnn(Model):
    def __init__(self, path: Path, metrics: dict, threads: int = 1) -> None:
        self.run = OnnxClassifier(path, threads)
        self.info = ModelInfo(
            name=NAME,
            version=str(metrics.get("version", "1.0")),
            input_kind="sketch",
            labels=LABELS,
            description="A small CNN trained on MNIST handwriting with canvas-style "
            "augmentation; reads real handwriting.",
            metrics=metrics,
        )

    def prepare(self, image: Image.Image) -> np.ndarray:
        return sketch.to_mnist(sketch.ink_from_image(image))[None]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)

    def preview(self, sample: np.ndarray) -> np.ndarray:
        return sketch.preview_png_array(sample[0], 1.0)
