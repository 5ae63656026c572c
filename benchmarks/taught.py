"""Taught models: how long training takes from 10, 100 and 1,000 examples; the nearest-
example head against a logistic regression on the same embeddings; and predictions per
second of a taught model against efficientnet-lite0 itself, through ``modelport serve``.

    .venv/bin/python benchmarks/taught.py [--connections 8] [--seconds 15]

Examples are made from scikit-image's and scikit-learn's sample photos (crops, flips,
colour changes), as in tests/test_teach.py. Everything runs on 127.0.0.1 and stops itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_image
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402
from load_photo import photo_jpeg  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from teach_pictures import jpeg, variant  # noqa: E402

from modelport.inputs.decode import Limits  # noqa: E402
from modelport.models.registry import load_one  # noqa: E402
from modelport.models.taught import TaughtModel, leave_one_out, unit_rows  # noqa: E402

PHOTOS = {
    "cat": lambda: Image.fromarray(skimage.data.chelsea()),
    "coffee": lambda: Image.fromarray(skimage.data.coffee()),
    "flower": lambda: Image.fromarray(load_sample_image("flower.jpg")),
    "palace": lambda: Image.fromarray(load_sample_image("china.jpg")),
    "rocket": lambda: Image.fromarray(skimage.data.rocket()),
}


def examples(base, per_class: int, seed: int) -> tuple[np.ndarray, list[str], float]:
    """Embeddings of ``per_class`` looks at each photo, and the ms each embedding took."""
    rng = np.random.default_rng(seed)
    pictures = [
        (label, jpeg(variant(photo(), rng)))
        for label, photo in PHOTOS.items()
        for _ in range(per_class)
    ]
    started = time.perf_counter()
    samples = np.stack([base.prepare(base.decode(data, Limits())) for _, data in pictures])
    embeddings = np.concatenate(
        [base.embed(samples[i : i + 16]) for i in range(0, len(samples), 16)]
    )
    ms_each = (time.perf_counter() - started) * 1000 / len(pictures)
    return embeddings, [label for label, _ in pictures], ms_each


def training_times(base, pool: np.ndarray, labels: list[str]) -> None:
    order = np.random.default_rng(0).permutation(len(labels))
    for count in (10, 100, 1000):
        chosen = order[:count]
        started = time.perf_counter()
        evaluation = leave_one_out(pool[chosen], [labels[i] for i in chosen])
        TaughtModel("bench", base, pool[chosen], [labels[i] for i in chosen], "1")
        elapsed = (time.perf_counter() - started) * 1000
        serving.report(
            f"train from {count} examples (leave-one-out, then the head)",
            {"ms": round(elapsed, 1), "leave-one-out accuracy": evaluation.accuracy},
        )


def heads_compared(base) -> None:
    """Both heads taught from 8 looks per class, asked about 40 new looks per class."""
    taught, taught_labels, ms_each = examples(base, 8, seed=1)
    trial, trial_labels, _ = examples(base, 40, seed=2)
    nearest = TaughtModel("bench", base, taught, taught_labels, "1").head
    answer = np.array(nearest.classes)[nearest(trial).argmax(axis=1)]
    started = time.perf_counter()
    regression = LogisticRegression(max_iter=2000).fit(unit_rows(taught), taught_labels)
    fit_ms = (time.perf_counter() - started) * 1000
    serving.report(
        f"heads, {len(PHOTOS)} classes x 8 examples, {len(trial_labels)} new crops",
        {
            "embedding ms per picture": round(ms_each, 1),
            "nearest examples: accuracy": round(float((answer == trial_labels).mean()), 4),
            "logistic regression: accuracy": round(
                float((regression.predict(unit_rows(trial)) == np.array(trial_labels)).mean()), 4
            ),
            "logistic regression: fit ms": round(fit_ms, 1),
        },
    )


def served_rates(options, store: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="modelport-taught-"))
    env = {
        "MODELPORT_DATABASE_URL": f"sqlite:///{folder / 'modelport.db'}",
        "MODELPORT_MODEL_STORE": str(store),
        "MODELPORT_INSTANCE_PATH": str(folder),
    }
    rng = np.random.default_rng(3)
    words = []
    for label, photo in list(PHOTOS.items())[:3]:
        files = []
        for index in range(8):
            path = folder / f"{label}-{index}.jpg"
            path.write_bytes(jpeg(variant(photo(), rng)))
            files.append(str(path))
        words += ["--class", label, *files]
    subprocess.run(
        [sys.executable, "-m", "modelport", "teach", "things", *words],
        env=os.environ | env,
        check=True,
        capture_output=True,
    )
    server = serving.start("efficientnet-lite0", store, [], env)
    try:
        for name in ("efficientnet-lite0", "things"):
            url = f"{server.url}/api/v1/models/{name}/predict"
            result, figures = serving.drive(
                server, url, photo_jpeg(), "image/jpeg", options.connections, options.seconds
            )
            serving.report(
                f"{name}: POST a 450x300 JPEG, {options.connections} connections",
                {"requests/s": round(result.requests_per_s)}
                | {
                    k: figures[k]
                    for k in ("p50 ms", "p99 ms", "errors", "server CPU ms per request")
                },
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    options = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    base = load_one(store, "efficientnet-lite0", threads=2)
    pool, labels, _ = examples(base, 200, seed=0)  # 1,000 examples
    training_times(base, pool, labels)
    heads_compared(base)
    served_rates(options, store)


if __name__ == "__main__":
    main()
