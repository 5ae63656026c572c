"""``digits-knn``: the classic demo, k-nearest neighbours (k=3) over scikit-learn's 8x8 digits.

A k-NN is its data, so the stored artifact is simply the samples and labels as ``.npz``
(no pickle), next to a ``metrics.json`` with its version and validation accuracy.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from modelport.inputs import sketch
from modelport.models.base import Model, ModelInfo
from modelport.models.store import ModelStore, write_atomically

NAME = "digits-knn"
ARTIFACT = "samples.npz"
NEIGHBOURS = 3
LABELS = [str(d) for d in range(10)]


def train(store: ModelStore, seed: int = 0) -> dict:
    """Fit on 80% of scikit-learn's digits, measure on the other 20%, store the samples."""
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    classifier = KNeighborsClassifier(n_neighbors=NEIGHBOURS).fit(x_train, y_train)
    accuracy = float(classifier.score(x_val, y_val))
    samples = x_train.astype(np.float32)
    labels = y_train.astype(np.int64)
    data_hash = hashlib.sha256(samples.tobytes() + labels.tobytes()).hexdigest()
    path = store.folder(NAME) / ARTIFACT
    _save(path, samples, labels)
    metrics = {
        "model": NAME,
        "version": f"1.0+{data_hash[:8]}",
        "validation_accuracy": round(accuracy, 4),
        "training_samples": len(labels),
        "validation_samples": len(y_val),
        "training_data": "scikit-learn load_digits (1,797 8x8 digits), 80/20 stratified split",
        "training_data_sha256": data_hash,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.write_metrics(NAME, metrics)
    return metrics


def load(store: ModelStore, **_: object) -> DigitsKnn:
    path = store.find(NAME, ARTIFACT)
    if path is None:
        train(store)
        path = store.find(NAME, ARTIFACT)
    return DigitsKnn(path, store.metrics(path))


def _save(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, samples=samples, labels=labels)
    write_atomically(path, buffer.getvalue())


class DigitsKnn(Model):
    def __init__(self, path: Path, metrics: dict) -> None:
        with np.load(path, allow_pickle=False) as data:
            samples, labels = data["samples"], data["labels"]
        self.classifier = KNeighborsClassifier(n_neighbors=NEIGHBOURS).fit(samples, labels)
        self.info = ModelInfo(
            name=NAME,
            version=str(metrics.get("version", "1.0")),
            input_kind="sketch",
            labels=LABELS,
            description="The classic demo: k-nearest neighbours (k=3) over scikit-learn's "
            "8x8 digits.",
            metrics=metrics,
        )

    def prepare(self, image: Image.Image) -> np.ndarray:
        return sketch.to_digits8(sketch.ink_from_image(image))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        flat = np.asarray(batch, dtype=np.float32).reshape(len(batch), -1)
        probabilities = np.zeros((len(flat), len(LABELS)), dtype=np.float32)
        probabilities[:, self.classifier.classes_] = self.classifier.predict_proba(flat)
        return probabilities

    def preview(self, sample: np.ndarray) -> np.ndarray:
        return sketch.preview_png_array(sample, 16.0)
