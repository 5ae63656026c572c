"""``digits-knn``: the classic demo, k-nearest neighbours (k=3) over scikit-learn's 8x8 digits.

A k-NN is its data, so the stored artifact is simply the samples and labels as ``.npz``
(no pickle), next to a ``metrics.json`` with its version and validation accuracy.

It also learns from corrections on the spot (``learn``): a corrected drawing joins the
neighbours, is kept in ``learned.npz`` beside the model (so it survives a restart), and
the very same input is answered with its correction from then on. Every worker process
notices a new ``learned.npz`` by its file stamp, checked with one ``stat`` per batch.

One correction per prediction: each learned sample carries the id of the prediction it
corrects, and a later correction of that prediction replaces it. The same input with the
same label is kept once. So feedback repeated on one prediction never grows the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from modelport.inputs import sketch
from modelport.models.base import Model, ModelInfo
from modelport.models.repository import ModelFolder, ModelRepository
from modelport.models.settings import ModelSettings
from modelport.models.store import ModelStore, write_atomically

NAME = "digits-knn"
ARTIFACT = "samples.npz"
LEARNED = "learned.npz"
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


def load(folder: ModelFolder, repository: ModelRepository, threads: int = 1) -> DigitsKnn:
    """Its folder's model, trained into the model store first if this machine has none."""
    store = ModelStore(repository.store)
    path = folder.find(folder.settings.file)
    if path is None:
        train(store)
        path = folder.artifact
    return DigitsKnn(
        path, store.metrics(path), learned=store.folder(NAME) / LEARNED, settings=folder.settings
    )


def _save(
    path: Path, samples: np.ndarray, labels: np.ndarray, keys: np.ndarray | None = None
) -> None:
    buffer = io.BytesIO()
    if keys is None:
        np.savez(buffer, samples=samples, labels=labels)
    else:
        np.savez(buffer, samples=samples, labels=labels, keys=np.asarray(keys, dtype=str))
    write_atomically(path, buffer.getvalue())


def _load_samples(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        samples = np.asarray(data["samples"], np.float32).reshape(-1, 64)
        return samples, np.asarray(data["labels"], np.int64)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_ino, status.st_size


class DigitsKnn(Model):
    def __init__(
        self,
        path: Path,
        metrics: dict,
        learned: Path | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        self.samples, self.sample_labels = _load_samples(path)
        self.learned_path = learned
        self._learned_stamp: tuple[int, int, int] | None = None
        self._reload_lock = threading.Lock()
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
        self._refresh()

    def prepare(self, image: Image.Image) -> np.ndarray:
        return sketch.to_digits8(sketch.ink_from_image(image))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self._refresh()
        classifier, corrections = self.classifier, self.corrections
        flat = np.ascontiguousarray(batch, dtype=np.float32).reshape(len(batch), -1)
        probabilities = np.zeros((len(flat), len(LABELS)), dtype=np.float32)
        probabilities[:, classifier.classes_] = classifier.predict_proba(flat)
        for row, sample in enumerate(flat):
            corrected = corrections.get(sample.tobytes())
            if corrected is not None:  # people said what exactly this input is
                probabilities[row] = 0.0
                probabilities[row, corrected] = 1.0
        return probabilities

    def learn(self, sample: np.ndarray, label: str, key: str | None = None) -> None:
        """Add a corrected input (as ``prepare`` made it) to the neighbours, for good.

        ``key`` names what is corrected (the prediction's id): it replaces an earlier
        correction with the same key. An input already learned with this label is not
        added again.
        """
        if label not in LABELS:
            raise ValueError(f"{NAME} knows no label {label!r}")
        if self.learned_path is None:
            raise RuntimeError(f"{NAME} was loaded without a place to keep what it learns")
        flat = np.asarray(sample, np.float32).reshape(1, 64)
        index = LABELS.index(label)
        lock_path = self.learned_path.with_name(self.learned_path.name + ".lock")
        with open(lock_path, "a") as lock:  # workers take turns to change the file
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                learned = _with_correction(*self._read_learned(), flat, index, key)
                if learned is not None:
                    _save(self.learned_path, *learned)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._refresh()

    def _read_learned(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The learned samples, their labels and keys ("" where a sample has none)."""
        if self.learned_path is None or not self.learned_path.is_file():
            return np.zeros((0, 64), np.float32), np.zeros((0,), np.int64), np.zeros(0, str)
        with np.load(self.learned_path, allow_pickle=False) as data:
            samples = np.asarray(data["samples"], np.float32).reshape(-1, 64)
            labels = np.asarray(data["labels"], np.int64)
            keys = data["keys"] if "keys" in data.files else np.full(len(labels), "")
        return samples, labels, np.asarray(keys, dtype=str)

    def _refresh(self) -> None:
        """Refit when ``learned.npz`` changed (in this worker or another one)."""
        if self.learned_path is None:
            return
        if _file_stamp(self.learned_path) == self._learned_stamp:
            return
        with self._reload_lock:
            stamp = _file_stamp(self.learned_path)
            if stamp == self._learned_stamp:
                return
            samples, labels, _keys = self._read_learned()
            self._fit(samples, labels)
            self._learned_stamp = stamp

    def _fit(self, learned: np.ndarray, learned_labels: np.ndarray) -> None:
        # A ball tree finds the same neighbours as brute force, but serially: brute force
        # runs on OpenMP threads, which on 2 busy cores with 4 workers made a request
        # take 25-100 ms instead of 2 ms.
        classifier = KNeighborsClassifier(n_neighbors=NEIGHBOURS, algorithm="ball_tree").fit(
            np.concatenate([self.samples, learned]),
            np.concatenate([self.sample_labels, learned_labels]),
        )
        # The latest correction of an input wins.
        corrections = {s.tobytes(): int(y) for s, y in zip(learned, learned_labels, strict=True)}
        self.classifier, self.corrections = classifier, corrections
        self.info.metrics["learned_samples"] = len(learned_labels)

    def preview(self, sample: np.ndarray) -> np.ndarray:
        return sketch.preview_png_array(sample, 16.0)


def _with_correction(
    samples: np.ndarray,
    labels: np.ndarray,
    keys: np.ndarray,
    sample: np.ndarray,
    label: int,
    key: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """What is learned once ``sample`` is learned as ``label``; None when that changes
    nothing. The correction goes last (the latest correction of an input wins), in place
    of the earlier one with the same key and of the same input with the same label."""
    same_input = np.all(samples == sample, axis=1)
    replaced = same_input & (labels == label)
    if key is not None:
        replaced |= keys == key
    elif replaced.any():
        return None  # learned already (perhaps under a key, which it keeps)
    (positions,) = np.nonzero(replaced)
    if (
        len(positions) == 1
        and same_input[positions[0]]
        and labels[positions[0]] == label
        and keys[positions[0]] == key
        and not same_input[positions[0] + 1 :].any()
    ):
        return None  # this very correction, and no later one of the same input
    keep = ~replaced
    return (
        np.concatenate([samples[keep], sample]).astype(np.float32),
        np.concatenate([labels[keep], [label]]).astype(np.int64),
        np.concatenate([keys[keep], [key or ""]]).astype(str),
    )
