"""Photos under load: a 450x300 JPEG to ``efficientnet-lite0`` through
``POST /api/v1/models/efficientnet-lite0/predict`` (raw bytes), against ``modelport
serve`` as it starts by default, compared with ONNX Runtime alone in this process on the
same model and an already-prepared input (the ceiling: no HTTP, no decoding).

    .venv/bin/python benchmarks/load_photo.py [--connections 8] [--seconds 20]
        [--store DIR] [--serve-args "--workers 2 --threads 4"]

Target: at least 70% of ONNX Runtime's images/s, at 8 connections.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402

from modelport.inputs.photo import to_efficientnet  # noqa: E402
from modelport.models.runtimes import OnnxRunner  # noqa: E402
from modelport.models.store import ModelStore  # noqa: E402


def photo_jpeg() -> bytes:
    """scikit-image's chelsea (a cat, 451x300) as a 450x300 JPEG."""
    from skimage import data

    image = Image.fromarray(data.chelsea()).resize((450, 300), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def ort_alone(model_path: Path, threads: int, seconds: float) -> float:
    """Images per second of the bare ONNX Runtime session at batch 1."""
    run = OnnxRunner(model_path, threads, apply_softmax=True)
    sample = to_efficientnet(Image.open(io.BytesIO(photo_jpeg())).convert("RGB"))[None]
    for _ in range(10):
        run(sample)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run(sample)
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--store", type=Path, default=Path("instance/models"))
    parser.add_argument("--serve-args", default="", help="extra options for modelport serve")
    options = parser.parse_args()
    model_path = ModelStore(options.store.resolve()).find("efficientnet-lite0", "model.onnx")
    if model_path is None:
        sys.exit(
            f"no efficientnet-lite0 in {options.store}: run `modelport train efficientnet-lite0`"
        )
    cores = len(os.sched_getaffinity(0))
    alone = {n: ort_alone(model_path, n, options.seconds / 2) for n in sorted({1, cores})}
    best = max(alone.values())
    body = photo_jpeg()
    server = serving.start(
        "efficientnet-lite0", options.store.resolve(), shlex.split(options.serve_args)
    )
    try:
        url = server.url + "/api/v1/models/efficientnet-lite0/predict"
        result, figures = serving.drive(
            server, url, body, "image/jpeg", options.connections, options.seconds
        )
        serving.report(
            f"photo: 450x300 JPEG ({len(body)} B) to efficientnet-lite0,"
            f" {options.connections} connections, {options.seconds} s",
            {
                "ORT alone img/s by intra-op threads": {n: round(v, 1) for n, v in alone.items()},
                "server img/s": round(result.requests_per_s, 1),
                "server / best ORT alone": f"{result.requests_per_s / best:.0%}",
            }
            | figures,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
