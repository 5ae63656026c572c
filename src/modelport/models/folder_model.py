"""A model served from its folder: the input adapter its kind calls for, composed with the
runtime its file calls for. No model needs a class of its own to be served.

Everything the folder says is checked against the file before the model is served: the
label count against the output width, the input shape against ``size``, ``layout`` and
``channels``, a tabular model's features against the columns it was fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from modelport.inputs import adapters, sketch
from modelport.inputs.decode import Limits
from modelport.models.base import Model, ModelInfo
from modelport.models.repository import ModelFolder
from modelport.models.runtimes import Runner, open_runner
from modelport.models.settings import BadModelFolder, ModelSettings, check_labels

METRICS = "metrics.json"


class FolderModel(Model):
    def __init__(self, folder: ModelFolder, threads: int = 1, artifact: Path | None = None):
        settings = folder.settings
        self.folder = folder
        self.artifact = artifact or folder.artifact
        self.runner: Runner = open_runner(self.artifact, settings, threads)
        labels = read_labels(folder, self.runner)
        metrics = read_metrics(folder)
        # A built-in retrained here is known by the version its training wrote.
        version = str(metrics.get("version", settings.version)) if folder.bundled else None
        self.info = ModelInfo(
            name=settings.name,
            version=version or settings.version,
            input_kind=settings.kind,
            labels=labels,
            description=settings.description,
            metrics=metrics,
            settings=settings,
        )
        if settings.training_data and "training_data" not in self.info.metrics:
            self.info.metrics["training_data"] = settings.training_data
        check_against_file(folder.path.name, settings, self.runner, labels)

    @property
    def settings(self) -> ModelSettings:
        return self.folder.settings

    def decode(self, data: bytes, limits: Limits) -> Image.Image:
        return adapters.decode_picture(self.input_kind, data, limits, self.settings.preprocess)

    def prepare(self, value: Any) -> np.ndarray:
        kind = self.input_kind
        if kind == "photo":
            return adapters.photo_input(value, self.settings.preprocess)
        if kind == "sketch":
            return adapters.sketch_input(value, self.settings.preprocess)
        numeric = self.runner.feature_names is None and self.runner.classes is None
        return adapters.row_input(value, self.settings.features, numeric=numeric)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.runner(batch)

    @property
    def embeds(self) -> bool:
        return bool(getattr(self.runner, "has_embedding", False))

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """The graph's embedding of each prepared input (see ``OnnxRunner.embed``)."""
        return self.runner.embed(batch)

    def preview(self, sample: np.ndarray) -> np.ndarray | None:
        """For a drawing, the ink as the model saw it (white on black)."""
        preprocess = self.settings.preprocess
        if self.input_kind != "sketch":
            return None
        values = sample if preprocess.layout == "NHWC" else sample.transpose(1, 2, 0)
        ink = values[:, :, 0] * preprocess.std[0] + preprocess.mean[0]
        ink = ink * preprocess.scale / 255.0
        return sketch.preview_png_array(1.0 - ink if preprocess.invert else ink, 1.0)


def read_labels(folder: ModelFolder, runner: Runner) -> list[str]:
    """The folder's labels, else the class names the file carries, else class numbers."""
    settings = folder.settings
    if settings.labels is not None:
        return list(settings.labels)
    if settings.labels_file is not None:
        path = folder.find(settings.labels_file)
        if path is None:
            raise BadModelFolder(
                folder.path.name, f"labels_file: {settings.labels_file} is not in the folder"
            )
        labels = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
        try:
            check_labels(labels)
        except ValueError as exc:
            raise BadModelFolder(folder.path.name, f"labels_file: {exc}") from None
        return labels
    if runner.classes is not None:
        return list(runner.classes)
    if runner.output_width is not None:
        return [str(i) for i in range(runner.output_width)]
    raise BadModelFolder(folder.path.name, "labels: the model does not say its classes: give them")


def read_metrics(folder: ModelFolder) -> dict[str, Any]:
    path = folder.find(METRICS)
    if path is None:
        return {}
    try:
        metrics = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def check_against_file(folder: str, settings: ModelSettings, runner: Runner, labels: list[str]):
    width = runner.output_width
    if width is not None and width != len(labels):
        key = "labels_file" if settings.labels_file else "labels"
        raise BadModelFolder(
            folder, f"{key}: {len(labels)} labels, but the model gives {width} scores per input"
        )
    if settings.kind == "tabular":
        check_features(folder, settings, runner)
        return
    shape = runner.input_shape
    if shape is None:
        raise BadModelFolder(folder, f"kind: a {settings.kind} model must be an ONNX file")
    expected = settings.preprocess.input_shape()
    if len(shape) != 3:
        raise BadModelFolder(
            folder,
            f"kind: the model takes inputs of shape {list(shape)}, not pictures "
            f"({settings.preprocess.layout} {list(expected)})",
        )
    for have, want, key in zip(shape, expected, _shape_keys(settings), strict=True):
        if have is not None and have != want:
            raise BadModelFolder(
                folder,
                f"{key}: the model takes {list(_show(shape))} per input "
                f"({settings.preprocess.layout}), the settings make {list(expected)}",
            )


def _shape_keys(settings: ModelSettings) -> tuple[str, str, str]:
    if settings.preprocess.layout == "NCHW":
        return ("preprocess.channels", "preprocess.size", "preprocess.size")
    return ("preprocess.size", "preprocess.size", "preprocess.channels")


def _show(shape: tuple[int | None, ...]) -> list[Any]:
    return ["?" if d is None else d for d in shape]


def check_features(folder: str, settings: ModelSettings, runner: Runner) -> None:
    names = [feature.name for feature in settings.features]
    if runner.feature_names is not None and runner.feature_names != names:
        raise BadModelFolder(
            folder,
            f"features: the model was fitted on {', '.join(runner.feature_names)}; "
            f"the settings give {', '.join(names)}",
        )
    shape = runner.input_shape
    if shape is not None and (len(shape) != 1 or shape[0] not in (None, len(names))):
        raise BadModelFolder(
            folder,
            f"features: {len(names)} features, but the model takes inputs of shape {_show(shape)}",
        )
