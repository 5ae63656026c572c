"""Bare model files built at test time for ``modelport add``: tiny torch networks saved as
ONNX and as ``.pt2``, a tiny Keras network, and scikit-learn pipelines saved with skops.

Every model is small enough to build in well under a second; nothing is committed.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

COLOURS = ("red", "green", "blue")


# --- torch ------------------------------------------------------------------------------


def tiny_cnn(channels: int = 3, classes: int = 3, softmax: bool = False, nhwc: bool = False):
    """conv -> relu -> global average pool -> linear, with fixed random weights; with
    ``nhwc`` it takes [N, H, W, C] (as Keras and TensorFlow models do)."""
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(channels, 4, kernel_size=3)
            self.fc = torch.nn.Linear(4, classes)

        def forward(self, x):
            if nhwc:
                x = x.permute(0, 3, 1, 2)
            scores = self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)) * 4)
            return torch.softmax(scores, dim=1) if softmax else scores

    return Net().eval()


def tiny_mlp(features: int = 4, classes: int = 3):
    import torch

    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(features, 8), torch.nn.ReLU(), torch.nn.Linear(8, classes)
    ).eval()


def save_onnx(module: Any, path: Path, input_shape: tuple[int, ...]) -> Path:
    """``module`` as ONNX with a dynamic batch axis; ``input_shape`` without the batch."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter says it is the old one
        torch.onnx.export(
            module,
            (torch.zeros(1, *input_shape),),
            str(path),
            input_names=["input"],
            output_names=["scores"],
            dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}},
            dynamo=False,
        )
    return path


def save_pt2(module: Any, path: Path, input_shape: tuple[int, ...], dynamic: bool = True):
    """``module`` as a ``torch.export`` program, with a dynamic batch axis unless not."""
    import torch

    example = (torch.zeros(2 if dynamic else 1, *input_shape),)
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    torch.export.save(torch.export.export(module, example, dynamic_shapes=shapes), path)
    return path


def torch_scores(module: Any, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(batch, np.float32))).numpy()


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# --- Keras ------------------------------------------------------------------------------


def keras_cnn(path: Path) -> Any:
    """A tiny channels-last Keras CNN saved to ``path`` (.keras or .h5), on the torch
    backend; returns the model to compare answers with."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    model.save(path)
    return model


# --- scikit-learn -----------------------------------------------------------------------


def iris_frame() -> tuple[pd.DataFrame, pd.Series]:
    """Fisher's iris as a DataFrame, and the species by name."""
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    return iris.data, iris.target.map(dict(enumerate(iris.target_names)))


def iris_pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, species = iris_frame()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(features, species)


def iris_with_colour() -> tuple[pd.DataFrame, pd.Series]:
    """Iris plus a text column, "colour", that mostly follows the species."""
    features, species = iris_frame()
    rng = np.random.default_rng(0)
    by_species = dict(zip(sorted(species.unique()), COLOURS, strict=True))
    colour = [by_species[s] if rng.random() < 0.8 else rng.choice(COLOURS) for s in species]
    return features.assign(colour=colour), species


def colour_pipeline() -> Any:
    """Numbers scaled and the colour one-hot encoded, in a ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features, species = iris_with_colour()
    numbers = [column for column in features.columns if column != "colour"]
    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), numbers),
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ]
    )
    pipeline = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=500))])
    return pipeline.fit(features, species)


def doubled(values: Any) -> Any:
    """A function of our own inside a pipeline: a type skops does not trust by default."""
    return values * 2.0


def doubling_pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    features, species = iris_frame()
    return make_pipeline(FunctionTransformer(doubled), LogisticRegression(max_iter=500)).fit(
        features, species
    )


def save_skops(estimator: Any, path: Path) -> Path:
    import skops.io

    skops.io.dump(estimator, path)
    return path


def rows_of(frame: pd.DataFrame, count: int) -> list[dict[str, Any]]:
    """The first ``count`` rows as JSON-ready dictionaries, as the API receives them."""
    return [
        {k: (float(v) if isinstance(v, int | float | np.number) else v) for k, v in row.items()}
        for row in frame.head(count).to_dict("records")
    ]


# --- pictures ---------------------------------------------------------------------------


def noise_png(size: tuple[int, int] = (50, 40), seed: int = 0) -> bytes:
    """A photo-like picture of random colours (every pixel differs, so a wrong resize or
    channel order shows in the scores)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()
