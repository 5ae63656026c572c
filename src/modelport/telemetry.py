"""Prometheus metrics that any layer may update (web, models, store), with no Flask here.

Under gunicorn every worker is its own process, so ``modelport serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any worker starts and
prometheus_client keeps each worker's values in a memory-mapped file there; ``/metrics``
adds them up. Elsewhere (tests, the CLI, ``flask run``) the values live in this process.

prometheus_client decides between the two when it is first imported, so it is imported
here only when a metric is first used (``telemetry.PREDICTIONS_RECORDED.inc()`` works as
usual through the module ``__getattr__``) and ``modelport serve`` has had its say.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds. A digit takes a few milliseconds, a photo a few tens: buckets cover both.
LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.004,
    0.006,
    0.008,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.2,
    0.5,
    1.0,
    2.5,
)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


_made = threading.Lock()


def _metrics() -> dict[str, Any]:
    # Made once: two threads making them at once would register every metric twice.
    with _made:
        return _make_metrics()


@cache
def _make_metrics() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "HTTP_REQUESTS": Counter(
            "modelport_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
        ),
        "HTTP_LATENCY": Histogram(
            "modelport_http_request_duration_seconds",
            "Time from request to response, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
        ),
        "PREDICT_LATENCY": Histogram(
            "modelport_prediction_duration_seconds",
            "One prediction from bytes to classes (decode, prepare, model), by model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),
        "INFERENCE_LATENCY": Histogram(
            "modelport_inference_duration_seconds",
            "One call of a model on a batch, by model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),
        "BATCH_SIZE": Histogram(
            "modelport_batch_size",
            "Inputs per model call after dynamic batching, by model.",
            ["model"],
            buckets=BATCH_BUCKETS,
        ),
        "QUEUE_DEPTH": Gauge(
            "modelport_queue_depth",
            "Inputs waiting for or inside a model call right now, by model.",
            ["model"],
            multiprocess_mode="livesum",
        ),
        "IN_FLIGHT": Gauge(
            "modelport_requests_in_flight",
            "Requests being handled right now.",
            multiprocess_mode="livesum",
        ),
        "PREDICTIONS_FAILED": Counter(
            "modelport_predictions_failed",
            "Predictions refused or failed, by model and error code.",
            ["model", "error"],
        ),
        "PREDICTIONS_RECORDED": Counter(
            "modelport_predictions_recorded",
            "Predictions written to the store.",
        ),
        "PREDICTIONS_NOT_RECORDED": Counter(
            "modelport_predictions_not_recorded",
            "Predictions that could not be written to the store (failed or dropped).",
        ),
        "RECORDING_BACKLOG": Gauge(
            "modelport_recording_backlog",
            "Predictions held by the recorders, not yet written to the store.",
            multiprocess_mode="livesum",
        ),
        "RECORDING_FAILING": Gauge(
            "modelport_recording_failing",
            "1 while a worker cannot write predictions to the store (they are held).",
            multiprocess_mode="livemax",
        ),
        "RECORDING_WRITE_ERRORS": Counter(
            "modelport_recording_write_errors",
            "Failed attempts to write predictions to the store (retried, not lost).",
        ),
        "MODELS_LOADED": Gauge(
            "modelport_models_loaded",
            "Models loaded and warmed in each live worker.",
            multiprocess_mode="livemax",
        ),
    }


NAMES = (
    "HTTP_REQUESTS",
    "HTTP_LATENCY",
    "PREDICT_LATENCY",
    "INFERENCE_LATENCY",
    "BATCH_SIZE",
    "QUEUE_DEPTH",
    "IN_FLIGHT",
    "PREDICTIONS_FAILED",
    "PREDICTIONS_RECORDED",
    "PREDICTIONS_NOT_RECORDED",
    "RECORDING_BACKLOG",
    "RECORDING_FAILING",
    "RECORDING_WRITE_ERRORS",
    "MODELS_LOADED",
)
# The recorder's hook has a shorter name in the brief; both work.
ALIASES = {"PREDICTIONS_RECORD_FAILED": "PREDICTIONS_NOT_RECORDED"}


def __getattr__(name: str) -> Any:
    name = ALIASES.get(name, name)
    if name in NAMES:
        return _metrics()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def exposition() -> tuple[bytes, str]:
    """The Prometheus text for every metric of every live worker, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _metrics()
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters stay counted)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)
