"""Modelport against the bare path, in one run on one machine: photos, digits and the cold
start, each with its ratio, so that a shared machine's mood cancels out.

    .venv/bin/python benchmarks/versus_bare.py [--seconds 15]

- Photos: the same 450x300 JPEG (chelsea). Bare: decode, prepare, ONNX Runtime and the top
  5 in this process on one thread, sequentially, times two (the cores); served:
  ``POST /api/v1/models/efficientnet-lite0/predict`` at 8 connections, every prediction
  recorded. Target: the served figure at 90% or more of the bare one.
- Digits: the canvas PNG as JSON. Bare: ``hello_baseline.py --app lean`` (decode,
  preprocess, CNN in Flask on gunicorn, nothing else); served: ``POST /api/predict`` at 16
  connections, recorded. Target: 90% or more, and p99 under 25 ms.
- Cold start: from ``modelport serve`` to every worker ready, artifacts present. Target:
  under 2 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hello_baseline  # noqa: E402
import serving  # noqa: E402
from load_photo import photo_jpeg  # noqa: E402

from modelport.inputs.decode import Limits  # noqa: E402
from modelport.models.registry import load_one  # noqa: E402

PHOTO_CONNECTIONS = 8
DIGIT_CONNECTIONS = 16


def photos_in_process(store: Path, seconds: float) -> float:
    """Photos per second on one thread: decode, prepare, ONNX Runtime, top 5."""
    model = load_one(store, "efficientnet-lite0", threads=1)
    data = photo_jpeg()
    for _ in range(10):
        model.top(model.predict(model.prepare(model.decode(data, Limits()))[None])[0], 5)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.top(model.predict(model.prepare(model.decode(data, Limits()))[None])[0], 5)
        count += 1
    return count / (time.perf_counter() - started)


def served(
    models: str, store: Path, path: str, body: bytes, kind: str, connections: int, seconds: int
):
    server = serving.start(models, store, [])
    try:
        result, figures = serving.drive(server, server.url + path, body, kind, connections, seconds)
        return result, figures, server.all_ready
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    options = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="modelport-store-"))
    load_one(store, "digits-knn")  # its samples trained once, so every start below is warm

    ceiling = 2 * photos_in_process(store, options.seconds)
    photos, photo_figures, _ = served(
        "efficientnet-lite0",
        store,
        "/api/v1/models/efficientnet-lite0/predict",
        photo_jpeg(),
        "image/jpeg",
        PHOTO_CONNECTIONS,
        options.seconds,
    )
    serving.report(
        "photos: served against twice the in-process pipeline",
        {
            "bare (2 x one thread) photos/s": round(ceiling),
            "served photos/s": round(photos.requests_per_s),
            "ratio": round(photos.requests_per_s / ceiling, 3),
            "served p99 ms": photos.p99_ms,
            "served CPU ms per photo": photo_figures["server CPU ms per request"],
            "errors": photos.errors,
        },
    )

    bare, _title = hello_baseline.run("lean", DIGIT_CONNECTIONS, options.seconds)
    digits, digit_figures, _ = served(
        "digits",
        store,
        "/api/predict",
        hello_baseline.digit_body(),
        "application/json",
        DIGIT_CONNECTIONS,
        options.seconds,
    )
    serving.report(
        "digits: served against the bare digit path",
        {
            "bare requests/s": round(bare.requests_per_s),
            "bare p99 ms": bare.p99_ms,
            "served requests/s": round(digits.requests_per_s),
            "served p99 ms": digits.p99_ms,
            "ratio": round(digits.requests_per_s / bare.requests_per_s, 3),
            "served CPU ms per request": digit_figures["server CPU ms per request"],
            "errors": digits.errors + bare.errors,
        },
    )

    starts = []
    for _ in range(3):
        server = serving.start("digits,digits-knn,efficientnet-lite0", store, [])
        starts.append(server.all_ready)
        memory = server.rss_mb()
        server.stop()
    serving.report(
        "cold start, the three built-in models, artifacts present",
        {
            "every worker ready s (3 runs)": [round(s, 2) for s in starts],
            "median s": round(sorted(starts)[1], 2),
            "RSS MB once ready": {k: round(v) for k, v in memory.items()},
        },
    )


if __name__ == "__main__":
    main()
