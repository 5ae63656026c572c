"""Warming models up before a worker takes traffic.

ONNX Runtime allocates and plans on the first run of each input shape, and Pillow and
numpy load code paths lazily; the first request to a cold worker would pay for all of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from modelport.models.base import Model

log = logging.getLogger(__name__)


def sample_row(model: Model) -> dict[str, Any]:
    """A row every tabular model accepts: numbers within their bounds, first choices."""
    row: dict[str, Any] = {}
    for feature in model.features:
        if feature.type == "category":
            row[feature.name] = feature.choices[0]
        else:
            row[feature.name] = feature.min if feature.min is not None else (feature.max or 0.0)
    return row


def sample_input(model: Model) -> Any:
    if model.input_kind == "tabular":
        return sample_row(model)
    return sample_image(model.input_kind)


def sample_image(kind: str) -> Image.Image:
    """A synthetic input of the right kind: a stroke on a canvas, or a grey-and-red photo."""
    if kind == "sketch":
        image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
        ImageDraw.Draw(image).line([(120, 60), (150, 40), (150, 230)], (0, 0, 0, 255), 18)
        return image
    image = Image.new("RGB", (450, 300), (128, 128, 128))
    ImageDraw.Draw(image).ellipse((100, 50, 300, 250), fill=(200, 40, 40))
    return image


def warm_up(
    models: Iterable[Model], batch_sizes: Iterable[int] = (1,)
) -> tuple[dict[str, float], dict[str, str]]:
    """Run each model once per batch size on a synthetic input.

    Returns milliseconds per model warmed, and the reason for each model that failed (a
    model that cannot predict on a clean input is not ready, but the others still are).
    """
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    sizes = tuple(batch_sizes)
    for model in models:
        started = time.perf_counter()
        try:
            sample = model.prepare(sample_input(model))
            for size in sizes:
                model.predict(np.repeat(sample[None], size, axis=0))
        except Exception as exc:
            failures[model.name] = f"warm-up failed: {type(exc).__name__}: {exc}"
            log.exception("model %s failed its warm-up", model.name)
            continue
        timings[model.name] = (time.perf_counter() - started) * 1000
        log.debug("warmed %s in %.1f ms", model.name, timings[model.name])
    return timings, failures
