"""A runtime per file type: one file in, ``batch -> scores`` out.

Runtimes know nothing of labels, kinds or HTTP, like Triton's backends and MLServer's
runtimes. They report what the file itself says of its input and output, so the folder's
settings can be checked against the model before it is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from modelport.models.onnx_runtime import create_session, softmax
from modelport.models.settings import BadModelFolder, ModelSettings


class Runner(Protocol):
    # The input's shape without the batch axis (None where the file leaves it open), or
    # None when the file says nothing of it.
    input_shape: tuple[int | None, ...] | None
    # How many scores a row gets, when the file says so before running.
    output_width: int | None
    # The class names the file itself carries (scikit-learn's ``classes_``), if any.
    classes: list[str] | None
    # The column names a tabular model was fitted on, if it knows them.
    feature_names: list[str] | None

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


EMBEDDING = "embedding"  # the output a taught model learns from


class OnnxRunner:
    """An ONNX graph whose first input is the batch and first output the scores; a graph
    with an output named ``embedding`` also answers ``embed`` from the same session."""

    classes = None
    feature_names = None

    def __init__(self, path: Path, threads: int = 1, apply_softmax: bool = True) -> None:
        self.session = create_session(path, threads)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_type = first.type
        self.input_shape = tuple(_dim(d) for d in first.shape[1:])
        outputs = self.session.get_outputs()
        self.output_name = outputs[0].name
        output_shape = outputs[0].shape
        self.output_width = _dim(output_shape[-1]) if len(output_shape) == 2 else None
        self.has_embedding = any(output.name == EMBEDDING for output in outputs[1:])
        self.apply_softmax = apply_softmax

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(batch, np.float32)}
        scores = self.session.run([self.output_name], feed)[0]
        return softmax(scores) if self.apply_softmax else scores

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """The graph's ``embedding`` output for the batch, (N, width) float32."""
        if not self.has_embedding:
            raise ValueError("this model's graph has no embedding output")
        feed = {self.input_name: np.ascontiguousarray(batch, np.float32)}
        return self.session.run([EMBEDDING], feed)[0]


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


class SkopsRunner:
    """A scikit-learn estimator or pipeline saved with skops: loaded without pickle, and
    only when every type in the file is one skops trusts or the folder lists in ``trust``."""

    input_shape = None
    output_width = None

    def __init__(self, path: Path, trusted: list[str]) -> None:
        import skops.io

        untrusted = untrusted_types(path, trusted)
        if untrusted:
            raise BadModelFolder(
                path.parent.name,
                "the file holds types that are not trusted: "
                + ", ".join(untrusted)
                + " (add it with --trust if you made it, or list them under trust)",
            )
        self.estimator = skops.io.load(path, trusted=list(trusted) or None)
        if not hasattr(self.estimator, "predict_proba"):
            raise BadModelFolder(
                path.parent.name,
                f"{type(self.estimator).__name__} has no predict_proba: "
                "Modelport serves classifiers",
            )
        classes = getattr(self.estimator, "classes_", None)
        self.classes = None if classes is None else [str(c) for c in classes]
        self.output_width = None if classes is None else len(classes)
        names = getattr(self.estimator, "feature_names_in_", None)
        self.feature_names = None if names is None else [str(n) for n in names]
        width = getattr(self.estimator, "n_features_in_", None)
        self.input_shape = (int(width),) if width is not None else None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        rows = batch
        if self.feature_names is not None:
            import pandas as pd

            rows = pd.DataFrame(batch, columns=self.feature_names).infer_objects()
        elif batch.dtype == object:
            try:
                rows = batch.astype(np.float64)
            except (TypeError, ValueError):
                rows = batch
        return np.asarray(self.estimator.predict_proba(rows), dtype=np.float32)


def untrusted_types(path: Path, trusted: list[str]) -> list[str]:
    import skops.io

    try:
        found = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise BadModelFolder(
            path.parent.name, f"{path.name} is not a readable skops file ({exc})"
        ) from None
    return [name for name in found if name not in trusted]


def open_runner(path: Path, settings: ModelSettings, threads: int = 1) -> Runner:
    if path.suffix == ".onnx":
        try:
            return OnnxRunner(path, threads, apply_softmax=not settings.output.probabilities)
        except BadModelFolder:
            raise
        except Exception as exc:  # onnxruntime's own error says what is wrong with the graph
            raise BadModelFolder(
                path.parent.name, f"{path.name} is not a usable ONNX model: {exc}"
            ) from None
    if path.suffix == ".skops":
        return SkopsRunner(path, settings.trust)
    raise BadModelFolder(path.parent.name, f"file: no runtime serves {path.suffix} files")
