"""Where the time of one photo prediction goes: decode, preprocess, model; and the chart.

    .venv/bin/python benchmarks/photo_speed.py [--store DIR] [--repeat 30]

Two JPEGs made from scikit-image's chelsea: the photo's own 451x300 and a 12-megapixel
4000x3000 camera-sized one. Decoding is ``open_photo`` with the service's draft size
(JPEG draft mode: the 12 MP photo is decoded at 1/8 scale); a full decode of the big one
is printed too, to show what draft mode saves. The model runs on ONNX Runtime with 1 and
2 intra-op threads; preprocessing is the model's own ``prepare``. The chart is the 5-bar
PNG of ``GET /api/v1/predictions/chart.png``. The model is the bundled ONNX file.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from modelport.config import Settings
from modelport.inputs.decode import Limits, open_image, open_photo
from modelport.models.registry import load_one
from modelport.web.chart import render_bar_chart

PHOTO_DRAFT_SIZE = (320, 320)  # what the photo model asks JPEG decoding for


def timed(function: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Settings.from_env().model_store_path)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    models = {threads: load_one(args.store, "efficientnet-lite0", threads) for threads in (1, 2)}
    print(f"loading the model twice (1 and 2 threads): {time.perf_counter() - started:.2f} s")
    print(f"median of {args.repeat} runs, ms per photo")

    cat = Image.fromarray(skimage.data.chelsea())
    photos = {
        "450x300 JPEG": jpeg(cat),
        "12 MP JPEG": jpeg(cat.resize((4000, 3000), Image.Resampling.BILINEAR)),
    }
    limits = Limits()
    for name, data in photos.items():
        decoded = open_photo(data, limits, draft_size=PHOTO_DRAFT_SIZE)
        sample = models[1].prepare(decoded)
        batch = sample[None]
        decode_ms = timed(
            lambda d=data: open_photo(d, limits, draft_size=PHOTO_DRAFT_SIZE), args.repeat
        )
        print(f"\n{name} ({len(data) // 1024} kB, decoded at {decoded.size[0]}x{decoded.size[1]})")
        print(f"  decode (draft)      {decode_ms:7.2f}")
        if decoded.size != Image.open(io.BytesIO(data)).size:
            full_ms = timed(lambda d=data: open_image(d, limits), max(3, args.repeat // 5))
            print(f"  decode (full, to compare) {full_ms:7.2f}")
        prepare_ms = timed(lambda d=decoded: models[1].prepare(d), args.repeat)
        print(f"  preprocess          {prepare_ms:7.2f}")
        for threads, model in models.items():
            model_ms = timed(lambda m=model, b=batch: m.predict(b), args.repeat)
            print(f"  model, {threads} thread{'s' if threads > 1 else ' '}     {model_ms:7.2f}")
        probabilities = models[1].predict(batch)[0]
        top = models[1].top(probabilities, 5)
        print(f"  top-1: {top[0].label} ({top[0].score:.1%})")

    labels = [p.label for p in top]
    scores = [p.score for p in top]
    chart_ms = timed(lambda: render_bar_chart(labels, scores, "efficientnet-lite0"), args.repeat)
    print(f"\nchart PNG, 5 bars    {chart_ms:7.2f}")
    assert np.isfinite(probabilities).all()


if __name__ == "__main__":
    main()
