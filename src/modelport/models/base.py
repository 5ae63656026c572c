"""What every model served by Modelport is: a name, a version, labels, an input kind, and
``predict(batch) -> probabilities``.

Preprocessing belongs to the model too (``decode`` and ``prepare``), because the digit CNN
and the classic k-NN want different arrays from the same drawing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from modelport.inputs.adapters import sketch_limits
from modelport.inputs.decode import Limits, open_image

if TYPE_CHECKING:
    from modelport.models.settings import ModelSettings

InputKind = Literal["sketch", "photo", "tabular"]


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


class UnknownModel(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


@dataclass
class ModelInfo:
    """What a model card and ``GET /api/v1/models/<name>`` say about a model."""

    name: str
    version: str
    input_kind: InputKind
    labels: list[str]
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    settings: ModelSettings | None = field(default=None, repr=False)


class Model(ABC):
    """A loaded model, ready to predict; built once at start and shared by every request."""

    info: ModelInfo

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def labels(self) -> list[str]:
        return self.info.labels

    @property
    def input_kind(self) -> InputKind:
        return self.info.input_kind

    def decode(self, data: bytes, limits: Limits) -> Image.Image:
        """The bytes of a picture as the decoded image ``prepare`` takes."""
        return open_image(data, sketch_limits(limits) if self.input_kind == "sketch" else limits)

    @abstractmethod
    def prepare(self, value: Any) -> np.ndarray:
        """One decoded image (or, for a tabular model, one checked row) to one model
        input (no batch axis)."""

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """A batch of prepared inputs to class probabilities, shape (N, len(labels))."""

    def preview(self, sample: np.ndarray) -> np.ndarray | None:
        """The prepared input as a uint8 picture, to show people what the model saw."""
        return None

    def top(self, probabilities: np.ndarray, k: int) -> list[Prediction]:
        k = max(1, min(k, len(self.labels)))
        order = np.argsort(probabilities)[::-1][:k]
        return [Prediction(self.labels[i], float(probabilities[i])) for i in order]

    @property
    def features(self) -> list:
        """A tabular model's input columns (``settings.Feature``), in order."""
        settings = self.info.settings
        return list(settings.features) if settings is not None else []

    def describe(self) -> dict[str, Any]:
        described = {
            "name": self.info.name,
            "version": self.info.version,
            "input_kind": self.info.input_kind,
            "labels": len(self.info.labels),
            "description": self.info.description,
            "metrics": self.info.metrics,
        }
        if self.features:
            described["features"] = [
                feature.model_dump(exclude_none=True) for feature in self.features
            ]
        return described
