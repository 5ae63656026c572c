"""One prediction, start to finish, for any caller (API, pages, CLI, benchmarks).

bytes -> decoded image (or a table row) -> the model's input -> probabilities -> top
classes, timed, and handed to the recorder (which stores it off the request's critical
path).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from PIL import Image

from modelport import telemetry
from modelport.inputs.adapters import table_rows
from modelport.inputs.decode import Limits
from modelport.inputs.errors import InputError
from modelport.models.base import Model, Prediction


@dataclass
class PredictionEvent:
    """What is known of a prediction once it is made: what the recorder stores."""

    id: str
    created_at: datetime
    model: str
    model_version: str
    input_kind: str
    # What arrived: a picture's bytes, or a table row as JSON.
    input_bytes: bytes
    image: Image.Image | None
    predictions: list[Prediction]
    latency_ms: float
    # Who asked: a visitor's anonymous id, "user:<name>" or "token:<id>" (None: nobody known).
    owner: str | None = None


@dataclass
class PredictionResult:
    id: str
    model: Model
    probabilities: np.ndarray
    predictions: list[Prediction]
    latency_ms: float
    sample: np.ndarray = field(repr=False)

    @property
    def best(self) -> Prediction:
        return self.predictions[0]

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "model": self.model.name,
            "version": self.model.version,
            "predictions": [
                {"label": p.label, "score": round(p.score, 6)} for p in self.predictions
            ],
            "latency_ms": round(self.latency_ms, 3),
        }


class Recorder(Protocol):
    def record(self, event: PredictionEvent) -> None: ...


class NullRecorder:
    """Stores nothing: for the CLI and for apps run without a database."""

    def record(self, event: PredictionEvent) -> None:
        return None


def new_prediction_id() -> str:
    """Time-ordered and unique across workers: 12 hex digits of milliseconds, 8 random.

    ``random`` rather than ``os.urandom``: no system call per prediction, and the module
    reseeds itself in every forked worker, so workers do not draw the same numbers.
    """
    return f"{time.time_ns() // 1_000_000:012x}{random.getrandbits(32):08x}"


def prediction_age_seconds(prediction_id: str) -> float | None:
    """How long ago a prediction with this id was made; None for an id we did not make."""
    if len(prediction_id) != 20:
        return None
    try:
        made_ms = int(prediction_id[:12], 16)
        int(prediction_id[12:], 16)
    except ValueError:
        return None
    return time.time() - made_ms / 1000


@contextmanager
def counting_failures(model: Model) -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        telemetry.PREDICTIONS_FAILED.labels(model.name, exc.code).inc()
        raise
    except Exception:
        telemetry.PREDICTIONS_FAILED.labels(model.name, "internal_error").inc()
        raise


def predict_bytes(
    model: Model,
    data: bytes,
    limits: Limits,
    top_k: int | None = None,
    recorder: Recorder | None = None,
    owner: str | None = None,
) -> PredictionResult:
    started = time.perf_counter()
    with counting_failures(model):
        if model.input_kind == "tabular":
            raise InputError(
                "wrong_input",
                f"{model.name} takes a table row: send JSON {{'inputs': {{feature: value}}}}.",
                415,
            )
        image = model.decode(data, limits)
        sample = model.prepare(image)
        probabilities = model.predict(sample[None])[0]
    return _finish(model, started, probabilities, sample, top_k, recorder, data, image, owner)


def predict_rows(
    model: Model,
    inputs: Any,
    top_k: int | None = None,
    recorder: Recorder | None = None,
    owner: str | None = None,
) -> list[PredictionResult]:
    """A tabular model on one row (``{"feature": value}``) or a list of rows, as one batch."""
    started = time.perf_counter()
    with counting_failures(model):
        if model.input_kind != "tabular":
            raise InputError("wrong_input", f"{model.name} takes a picture, not a table row.", 415)
        rows = table_rows(inputs, model.features)
        samples = [model.prepare(row) for row in rows]
        try:
            probabilities = model.predict(np.stack(samples))
        except ValueError as exc:
            # The rows passed the folder's checks but the model refuses them, e.g. a choice
            # its encoder never saw: the client can change the row, so a 422 that says why.
            raise InputError(
                "unusable_inputs",
                f"{model.name} could not use {'this row' if len(rows) == 1 else 'these rows'}: "
                f"{str(exc)[:300]}",
                422,
            ) from None
    return [
        _finish(
            model, started, scores, sample, top_k, recorder, json.dumps(row).encode(), None, owner
        )
        for row, sample, scores in zip(rows, samples, probabilities, strict=True)
    ]


def _finish(
    model: Model,
    started: float,
    probabilities: np.ndarray,
    sample: np.ndarray,
    top_k: int | None,
    recorder: Recorder | None,
    data: bytes,
    image: Image.Image | None,
    owner: str | None = None,
) -> PredictionResult:
    predictions = model.top(probabilities, top_k or len(model.labels))
    latency_ms = (time.perf_counter() - started) * 1000
    telemetry.PREDICT_LATENCY.labels(model.name).observe(latency_ms / 1000)
    result = PredictionResult(
        id=new_prediction_id(),
        model=model,
        probabilities=probabilities,
        predictions=predictions,
        latency_ms=latency_ms,
        sample=sample,
    )
    if recorder is not None:
        recorder.record(
            PredictionEvent(
                id=result.id,
                created_at=datetime.now(UTC),
                model=model.name,
                model_version=model.version,
                input_kind=model.input_kind,
                input_bytes=data,
                image=image,
                predictions=predictions,
                latency_ms=latency_ms,
                owner=owner,
            )
        )
    return result
