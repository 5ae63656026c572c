"""A classifier taught from a few examples per class, on a photo model's embedding.

The photo model (EfficientNet-Lite0) already knows how to see: its embedding (the 1280
pooled features its own classifier reads) puts two photos of the same thing close together.
A taught model keeps its examples' embeddings and answers with the nearest ones: each
class scores its closest example's cosine similarity, and a softmax over those scores
(sharpened by ``TEMPERATURE``) gives the probabilities. Nothing is fitted, so a new example
counts at once; the leave-one-out accuracy is exact and costs one matrix product; and the
whole model is one ONNX graph (``taught_export``). ``benchmarks/taught.py`` measures it
against a logistic regression on the same embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from modelport.inputs.decode import Limits
from modelport.models.base import Model, ModelInfo
from modelport.models.settings import ModelSettings, Output

TEMPERATURE = 0.05
MIN_CLASSES = 2


class NotTeachable(ValueError):
    """Examples from which no classifier can be made (fewer than two classes)."""


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def classes_of(labels: list[str]) -> list[str]:
    """The classes in the order their first example came."""
    return list(dict.fromkeys(labels))


class NearestExamples:
    """The head: per class, the cosine similarity of its nearest example; softmax."""

    def __init__(self, embeddings: np.ndarray, labels: list[str]) -> None:
        self.classes = classes_of(labels)
        if len(self.classes) < MIN_CLASSES:
            raise NotTeachable("a classifier needs examples of at least two classes")
        self.examples = unit_rows(embeddings)
        index = {label: i for i, label in enumerate(self.classes)}
        self.class_of = np.array([index[label] for label in labels], np.int64)
        # (classes, examples): 0 where the example is of the class, a large negative elsewhere
        self.mask = np.where(
            self.class_of[None, :] == np.arange(len(self.classes))[:, None], 0.0, -1e4
        ).astype(np.float32)

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        return unit_rows(embeddings) @ self.examples.T

    def probabilities(self, similarities: np.ndarray) -> np.ndarray:
        scores = (similarities[:, None, :] + self.mask[None, :, :]).max(axis=2) / TEMPERATURE
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        return self.probabilities(self.similarities(embeddings))


@dataclass(frozen=True)
class Evaluation:
    """Leave-one-out: each example answered by all the others."""

    accuracy: float
    labels: list[str]
    counts: list[list[int]]  # counts[true][predicted]
    examples: int

    def as_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "confusion": {"labels": self.labels, "counts": self.counts},
            "examples": self.examples,
        }


def leave_one_out(embeddings: np.ndarray, labels: list[str]) -> Evaluation:
    head = NearestExamples(embeddings, labels)
    similarities = head.similarities(embeddings)
    np.fill_diagonal(similarities, -1e4)  # an example may not answer itself
    predicted = head.probabilities(similarities).argmax(axis=1)
    classes = len(head.classes)
    counts = np.zeros((classes, classes), np.int64)
    np.add.at(counts, (head.class_of, predicted), 1)
    return Evaluation(
        accuracy=round(float((predicted == head.class_of).mean()), 4),
        labels=head.classes,
        counts=counts.tolist(),
        examples=len(labels),
    )


class TaughtModel(Model):
    """Served like any photo model: the base model's decoding and preparation, its
    embedding from the same ONNX session, then the nearest examples."""

    def __init__(
        self,
        name: str,
        base: Model,
        embeddings: np.ndarray,
        labels: list[str],
        version: str,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        self.base = base
        self.head = NearestExamples(embeddings, labels)
        self.example_count = len(labels)
        self.info = ModelInfo(
            name=name,
            version=version,
            input_kind="photo",
            labels=self.head.classes,
            description=(
                f"Taught from {len(labels)} examples of {len(self.head.classes)} classes on "
                f"{base.name}'s embedding: it answers with the class of the nearest examples."
            ),
            metrics=dict(metrics or {}),
            settings=taught_settings(name, base, self.head.classes, version),
        )

    def decode(self, data: bytes, limits: Limits) -> Image.Image:
        return self.base.decode(data, limits)

    def prepare(self, value: Any) -> np.ndarray:
        return self.base.prepare(value)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        return self.base.embed(batch)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.head(self.base.embed(batch))


def taught_settings(name: str, base: Model, classes: list[str], version: str) -> ModelSettings:
    """The model folder's settings of a taught model: its exported ``<name>.onnx`` takes
    what the base model takes and answers probabilities."""
    preprocess = base.info.settings.preprocess if base.info.settings else None
    settings = {
        "name": name,
        "version": version,
        "kind": "photo",
        "file": f"{name}.onnx",
        "labels": classes,
        "output": Output(probabilities=True),
        "description": f"Taught in Modelport from examples, on {base.name}'s embedding.",
    }
    if preprocess is not None:
        settings["preprocess"] = preprocess
    return ModelSettings.model_validate(settings)
