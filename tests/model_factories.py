"""Small models built at test time, written into a model store as folders by hand (the
model file and its ``modelport.toml``), as a user would before ``modelport add`` existed.

- ``iris_model``: a scikit-learn pipeline (StandardScaler + LogisticRegression) fitted on
  iris as a pandas DataFrame, four number features;
- ``penguins_model``: numbers and categories (ColumnTransformer with OneHotEncoder) on a
  made-up but penguin-like table; ``unseen_choice`` lists an island the model never saw;
- ``colours_model``: a tiny photo model, a few torch layers exported to ONNX, that names
  the dominant colour of a picture (red, green or blue).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
COLOURS = ("red", "green", "blue")


@dataclass
class TabularModel:
    name: str
    folder: Path
    estimator: Any  # the fitted scikit-learn pipeline, to compare answers with
    features: pd.DataFrame  # the columns it was fitted on (a few rows are handy inputs)

    def predict(self, row: dict[str, Any]) -> str:
        """What the estimator itself answers for one row."""
        frame = pd.DataFrame([row], columns=list(self.features.columns))
        return str(self.estimator.predict(frame)[0])

    def row(self, index: int = 0) -> dict[str, Any]:
        """A row of the training table as JSON-ready values."""
        values = self.features.iloc[index].to_dict()
        return {
            k: (float(v) if isinstance(v, int | float | np.number) else v)
            for k, v in values.items()
        }


def write_folder(store: Path, name: str, toml: str, files: dict[str, bytes]) -> Path:
    folder = Path(store) / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
    (folder / "modelport.toml").write_text(toml, "utf-8")
    return folder


def _skops_bytes(estimator: Any) -> bytes:
    import skops.io

    return skops.io.dumps(estimator)


def _number_feature(name: str, low: float, high: float) -> str:
    return f'[[features]]\nname = "{name}"\ntype = "number"\nmin = {low!r}\nmax = {high!r}\n'


def _category_feature(name: str, choices: list[str]) -> str:
    return f'[[features]]\nname = "{name}"\ntype = "category"\nchoices = {json.dumps(choices)}\n'


def iris_model(store: Path, name: str = "iris") -> TabularModel:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    iris = load_iris(as_frame=True)
    features = iris.data
    species = iris.target.map(dict(enumerate(iris.target_names)))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(features, species)
    toml = (
        f'name = "{name}"\nversion = "1.0"\nkind = "tabular"\nfile = "model.skops"\n'
        'description = "Iris species from sepal and petal sizes (scikit-learn)"\n'
        'training_data = "Fisher\'s iris, 150 flowers"\n\n'
    )
    for column in features.columns:
        low = math.floor(features[column].min())
        high = math.ceil(features[column].max())
        toml += _number_feature(column, float(low), float(high)) + "\n"
    folder = write_folder(store, name, toml, {"model.skops": _skops_bytes(pipeline)})
    return TabularModel(name, folder, pipeline, features)


def penguin_table(count: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Penguin-like rows: bill, flipper, mass, island and sex; the species to learn."""
    rng = np.random.default_rng(seed)
    species = rng.choice(SPECIES, count)
    male = rng.random(count) < 0.5
    means = {  # bill mm, flipper mm, body mass g
        "Adelie": (38.8, 190.0, 3700.0),
        "Chinstrap": (48.8, 196.0, 3730.0),
        "Gentoo": (47.5, 217.0, 5075.0),
    }
    spread = (3.4, 7.5, 480.0)
    columns = []
    for position in range(3):
        centre = np.array([means[s][position] for s in species])
        columns.append(centre + rng.normal(0, spread[position], count))
    bill, flipper, mass = columns
    bill = bill + np.where(male, 1.5, -1.5)
    mass = mass + np.where(male, 250.0, -250.0)
    island = np.where(
        species == "Gentoo",
        "Biscoe",
        np.where(species == "Chinstrap", "Dream", rng.choice(ISLANDS, count)),
    )
    table = pd.DataFrame(
        {
            "bill length (mm)": np.clip(bill, 31, 59).round(1),
            "flipper length (mm)": np.clip(flipper, 171, 234).round(0),
            "body mass (g)": np.clip(mass, 2750, 6250).round(-1),
            "island": island,
            "sex": np.where(male, "male", "female"),
        }
    )
    return table, pd.Series(species, name="species")


def penguins_model(
    store: Path, name: str = "penguins", unseen_choice: str | None = None
) -> TabularModel:
    """Numbers scaled and categories one-hot encoded in one pipeline. With ``unseen_choice``
    the folder offers an island the encoder never saw (and refuses: handle_unknown="error")."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table, species = penguin_table()
    numbers = ["bill length (mm)", "flipper length (mm)", "body mass (g)"]
    categories = ["island", "sex"]
    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), numbers),
            ("categories", OneHotEncoder(handle_unknown="error"), categories),
        ]
    )
    pipeline = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
    train, held_out = slice(0, 450), slice(450, None)
    pipeline.fit(table[train], species[train])
    accuracy = float(pipeline.score(table[held_out], species[held_out]))
    pipeline.fit(table, species)
    toml = (
        f'name = "{name}"\nversion = "2.1"\nkind = "tabular"\nfile = "model.skops"\n'
        'description = "Penguin species from bill, flipper, body mass, island and sex '
        '(scikit-learn pipeline)"\n'
        'training_data = "600 penguin-like rows made up for the tests"\n\n'
    )
    bounds = {"bill length (mm)": (30.0, 60.0), "flipper length (mm)": (170.0, 235.0)}
    bounds["body mass (g)"] = (2700.0, 6300.0)
    for column in numbers:
        toml += _number_feature(column, *bounds[column]) + "\n"
    islands = list(ISLANDS) + ([unseen_choice] if unseen_choice else [])
    toml += _category_feature("island", islands) + "\n"
    toml += _category_feature("sex", ["female", "male"])
    metrics = {"validation_accuracy": round(accuracy, 4), "trained_at": "2026-11-20"}
    files = {"model.skops": _skops_bytes(pipeline), "metrics.json": json.dumps(metrics).encode()}
    folder = write_folder(store, name, toml, files)
    return TabularModel(name, folder, pipeline, table)


def colours_onnx() -> bytes:
    """A 1x1 convolution, ReLU, global average pooling and a linear layer: each class's
    score is ten times the mean of its channel, so the dominant colour wins."""
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 3, kernel_size=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(3, 3),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(3).reshape(3, 3, 1, 1))
        net[0].bias.zero_()
        net[4].weight.copy_(torch.eye(3) * 10)
        net[4].bias.zero_()
    net.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter says it is the old one
        torch.onnx.export(
            net,
            (torch.zeros(1, 3, 32, 32),),
            buffer,
            input_names=["image"],
            output_names=["scores"],
            dynamic_axes={"image": {0: "batch"}, "scores": {0: "batch"}},
            dynamo=False,
        )
    return buffer.getvalue()


def colours_model(store: Path, name: str = "colours") -> Path:
    toml = (
        f'name = "{name}"\nkind = "photo"\nfile = "model.onnx"\n'
        'description = "The dominant colour of a picture (a tiny torch model in ONNX)"\n'
        f"labels = {json.dumps(list(COLOURS))}\n\n"
        '[preprocess]\nsize = [32, 32]\nresize = "stretch"\n'
        "mean = [0.0, 0.0, 0.0]\nstd = [1.0, 1.0, 1.0]\n"
    )
    return write_folder(store, name, toml, {"model.onnx": colours_onnx()})


def solid_png(colour: tuple[int, int, int], size: tuple[int, int] = (48, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()
