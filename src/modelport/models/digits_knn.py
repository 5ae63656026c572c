"""``digits-knn``: the classic demo, k-nearest neighbours (k=3) over scikit-learn's 8x8 digits.

A k-NN is its data, so the stored artifact is simply the samples and labels as ``.npz``
(no pickle), next to a ``metrics.json`` with its version and validation accuracy. It is
fitted and measured with scikit-learn; serving it takes only NumPy (:class:`Neighbours`),
so a server does not import scikit-learn, SciPy and pandas for it (most of a cold start).

It also learns from corrections on the spot: what it learned is kept in the database (the
corrections it was taught, see ``modelport.store.learning``), which hands every worker of
every replica the same corrected inputs through ``use_learned``. A corrected input joins
the neighbours, and the very same input is answered with its correction from then on.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from modelport.inputs import sketch
from modelport.models.base import Model, ModelInfo
from modelport.models.repository import ModelFolder, ModelRepository
from modelport.models.settings import ModelSettings
from modelport.models.store import ModelStore, write_atomically

log = logging.getLogger(__name__)

NAME = "digits-knn"
ARTIFACT = "samples.npz"
NEIGHBOURS = 3
LABELS = [str(d) for d in range(10)]


def train(store: ModelStore, seed: int = 0) -> dict:
    """Fit on 80% of scikit-learn's digits, measure on the other 20%, store the samples."""
    samples, labels, metrics = fit(seed)
    _save(store.folder(NAME) / ARTIFACT, samples, labels)
    store.write_metrics(NAME, metrics)
    return metrics


def fit(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """The training samples, their labels, and the metrics measured on the held-out 20%."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    classifier = KNeighborsClassifier(n_neighbors=NEIGHBOURS).fit(x_train, y_train)
    accuracy = float(classifier.score(x_val, y_val))
    samples = x_train.astype(np.float32)
    labels = y_train.astype(np.int64)
    data_hash = hashlib.sha256(samples.tobytes() + labels.tobytes()).hexdigest()
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
    return samples, labels, metrics


def load(folder: ModelFolder, repository: ModelRepository, threads: int = 1) -> DigitsKnn:
    """Its folder's model, trained into the model store first if this machine has none
    (in memory alone when the store is read-only: a replica's image prepared without it)."""
    store = ModelStore(repository.store)
    path = folder.find(folder.settings.file)
    if path is None:
        try:
            train(store)
        except OSError as exc:
            log.warning("%s is trained in memory: the model store is not writable (%s)", NAME, exc)
            return DigitsKnn(*fit(), settings=folder.settings)
        path = folder.artifact
    return DigitsKnn(*_load_samples(path), store.metrics(path), settings=folder.settings)


def _save(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, samples=samples, labels=labels)
    write_atomically(path, buffer.getvalue())


def _load_samples(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        samples = np.asarray(data["samples"], np.float32).reshape(-1, 64)
        return samples, np.asarray(data["labels"], np.int64)


class DigitsKnn(Model):
    def __init__(
        self,
        samples: np.ndarray,
        labels: np.ndarray,
        metrics: dict,
        settings: ModelSettings | None = None,
    ) -> None:
        self.samples, self.sample_labels = samples, labels
        self.info = ModelInfo(
            name=NAME,
            version=str(metrics.get("version", "1.0")),
            input_kind="sketch",
            labels=LABELS,
            description="The classic demo: k-nearest neighbours (k=3) over scikit-learn's "
            "8x8 digits.",
            metrics=metrics,
            settings=settings,
        )
        self._fit(np.zeros((0, 64), np.float32), np.zeros((0,), np.int64))

    def prepare(self, image: Image.Image) -> np.ndarray:
        return sketch.to_digits8(sketch.ink_from_image(image))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        neighbours, corrections = self.neighbours, self.corrections
        flat = np.ascontiguousarray(batch, dtype=np.float32).reshape(len(batch), -1)
        probabilities = neighbours.votes(flat)
        for row, sample in enumerate(flat):
            corrected = corrections.get(sample.tobytes())
            if corrected is not None:  # people said what exactly this input is
                probabilities[row] = 0.0
                probabilities[row, corrected] = 1.0
        return probabilities

    def use_learned(self, samples: np.ndarray, labels: list[str]) -> None:
        """Answer from the training samples plus these corrected inputs (as ``prepare``
        made them), oldest first: where an input was corrected twice, the later wins."""
        if any(label not in LABELS for label in labels):
            raise ValueError(f"{NAME} knows only the labels {', '.join(LABELS)}")
        samples = np.asarray(samples, np.float32).reshape(-1, 64)
        indices = np.array([LABELS.index(label) for label in labels], np.int64)
        # The same input learned twice as the same digit counts once among the neighbours.
        seen, keep = set(), []
        for position in reversed(range(len(indices))):
            key = (samples[position].tobytes(), int(indices[position]))
            if key not in seen:
                seen.add(key)
                keep.append(position)
        keep.reverse()
        self._fit(samples[keep], indices[keep])

    def _fit(self, learned: np.ndarray, learned_labels: np.ndarray) -> None:
        neighbours = Neighbours(
            np.concatenate([self.samples, learned]),
            np.concatenate([self.sample_labels, learned_labels]),
            NEIGHBOURS,
            len(LABELS),
        )
        # The latest correction of an input wins.
        corrections = {s.tobytes(): int(y) for s, y in zip(learned, learned_labels, strict=True)}
        self.neighbours, self.corrections = neighbours, corrections
        self.info.metrics["learned_samples"] = len(learned_labels)

    def preview(self, sample: np.ndarray) -> np.ndarray:
        return sketch.preview_png_array(sample, 16.0)


class Neighbours:
    """The ``k`` nearest samples by Euclidean distance, each casting one vote for its label:
    what scikit-learn's ``KNeighborsClassifier(n_neighbors=k).predict_proba`` gives, in
    NumPy. Among samples equally near at the k-th place, the one stored first counts
    (scikit-learn leaves that order to its search tree).
    """

    CHUNK = 256  # inputs compared at once: a chunk's distances are CHUNK x samples floats

    def __init__(self, samples: np.ndarray, labels: np.ndarray, k: int, classes: int) -> None:
        self.samples = np.asarray(samples, np.float64)
        self.labels = np.asarray(labels, np.int64)
        self.k = min(k, len(self.labels))
        self.classes = classes
        self._squares = np.einsum("ij,ij->i", self.samples, self.samples)

    def votes(self, inputs: np.ndarray) -> np.ndarray:
        """Each input's share of votes per class, ``(len(inputs), classes)`` float32."""
        shares = np.zeros((len(inputs), self.classes), np.float32)
        for start in range(0, len(inputs), self.CHUNK):
            chunk = np.asarray(inputs[start : start + self.CHUNK], np.float64)
            # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; exact for the digits' small whole numbers
            distances = self._squares - 2.0 * (chunk @ self.samples.T)
            distances += np.einsum("ij,ij->i", chunk, chunk)[:, None]
            nearest = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
            rows = np.repeat(np.arange(len(chunk)), self.k)
            np.add.at(shares[start : start + len(chunk)], (rows, self.labels[nearest].ravel()), 1)
        return shares / np.float32(self.k)
