"""Train a small scikit-learn classifier and save it with skops, ready for ``modelport add``.

    .venv/bin/python examples/train_iris.py          # writes iris.skops here
    .venv/bin/modelport add iris.skops               # copies it into the model store

The pipeline is fitted on a DataFrame, so it knows its columns' names: Modelport reads
them (``feature_names_in_``) and makes one form field per column on the model's page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(out: Path) -> None:
    iris = load_iris(as_frame=True)
    features = iris.data.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_"))
    species = iris.target.map(dict(enumerate(iris.target_names)))
    x_train, x_test, y_train, y_test = train_test_split(
        features, species, test_size=0.25, random_state=0, stratify=species
    )
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(x_train, y_train)
    print(f"held-out accuracy: {pipeline.score(x_test, y_test):.3f}")
    skops.io.dump(pipeline, out)
    print(f"saved {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "iris.skops"))
