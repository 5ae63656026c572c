"""Dynamic batching: requests that reach the same model within a few milliseconds share
one model call.

As in MLServer's adaptive batching, the batcher is a separate object wrapped around a
model (``BatchingModel(model, BatchPolicy(...))``) and configured by a maximum batch
size and a maximum wait. There is no extra thread: the first caller of a batch leads it.
It waits until the batch is full or ``max_wait`` has passed, runs the model once on every
input that joined, and hands each caller its rows. A lone request is therefore delayed by
at most ``max_wait``; a full batch goes at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from modelport import telemetry
from modelport.inputs.decode import Limits
from modelport.models.base import Model


@dataclass(frozen=True)
class BatchPolicy:
    max_batch_size: int = 8
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if not 0 <= self.max_wait_ms <= 1000:
            raise ValueError("max_wait_ms must be between 0 and 1000")

    @property
    def enabled(self) -> bool:
        return self.max_batch_size > 1 and self.max_wait_ms > 0


def parse_policies(text: str) -> dict[str, BatchPolicy]:
    """``"efficientnet-lite0=8/4,digits=16/1"``: model=max batch size/max wait in ms.

    An empty text, or ``off``, batches nothing.
    """
    policies: dict[str, BatchPolicy] = {}
    if text.strip().lower() in {"", "off", "none", "0"}:
        return policies
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, spec = part.partition("=")
        size, slash, wait = spec.partition("/")
        try:
            if not sep or not slash or not name.strip():
                raise ValueError
            policies[name.strip()] = BatchPolicy(int(size), float(wait))
        except ValueError:
            raise ValueError(
                f"batching: {part.strip()!r} is not model=max_batch_size/max_wait_ms"
            ) from None
    return policies


def policies_for(folders: dict[str, BatchPolicy], override: str) -> dict[str, BatchPolicy]:
    """What the models' folders ask for, with the operator's ``MODELPORT_BATCHING`` on top."""
    if override.strip().lower() in {"off", "none", "0"}:
        return {}
    return folders | parse_policies(override)


@dataclass
class _Batch:
    inputs: list[np.ndarray] = field(default_factory=list)
    size: int = 0
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    output: np.ndarray | None = None
    error: BaseException | None = None


class BatchingModel(Model):
    """A model whose concurrent ``predict`` calls are merged into batches."""

    def __init__(self, model: Model, policy: BatchPolicy) -> None:
        self.inner = model
        self.policy = policy
        self.info = model.info
        self._lock = threading.Lock()
        self._open: _Batch | None = None
        self._batch_size = telemetry.BATCH_SIZE.labels(model.name)
        self._queue_depth = telemetry.QUEUE_DEPTH.labels(model.name)
        self._inference = telemetry.INFERENCE_LATENCY.labels(model.name)

    def decode(self, data: bytes, limits: Limits) -> Image.Image:
        return self.inner.decode(data, limits)  # a photo's EXIF turn and JPEG draft, too

    def prepare(self, image: Image.Image) -> np.ndarray:
        return self.inner.prepare(image)

    def preview(self, sample: np.ndarray) -> np.ndarray | None:
        return self.inner.preview(sample)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        count = len(batch)
        if count >= self.policy.max_batch_size or not self.policy.enabled:
            return self._run([batch], count)
        with self._lock:
            current = self._open
            leader = current is None or current.size + count > self.policy.max_batch_size
            if leader:
                current = self._open = _Batch()
            start = current.size
            current.inputs.append(batch)
            current.size += count
            self._queue_depth.inc(count)
            if current.size >= self.policy.max_batch_size:
                self._open = None
                current.full.set()
        if leader:
            current.full.wait(self.policy.max_wait_ms / 1000)
            with self._lock:
                if self._open is current:
                    self._open = None
            try:
                current.output = self._run(current.inputs, current.size)
            except BaseException as exc:  # every caller of the batch gets the error
                current.error = exc
            finally:
                self._queue_depth.dec(current.size)
                current.done.set()
        else:
            current.done.wait()
        if current.error is not None:
            raise current.error
        assert current.output is not None
        return current.output[start : start + count]

    def _run(self, inputs: list[np.ndarray], size: int) -> np.ndarray:
        merged = inputs[0] if len(inputs) == 1 else np.concatenate(inputs)
        started = time.perf_counter()
        output = self.inner.predict(merged)
        self._inference.observe(time.perf_counter() - started)
        self._batch_size.observe(size)
        return output


def unwrapped(model: Model | None) -> Model | None:
    """The model itself: under its batching wrapper, if it has one."""
    return model.inner if isinstance(model, BatchingModel) else model


def with_batching(models: dict[str, Model], policies: dict[str, BatchPolicy]) -> None:
    """Wrap, in place, every model that has a policy that batches."""
    for name, policy in policies.items():
        model = models.get(name)
        if model is not None and policy.enabled and not isinstance(model, BatchingModel):
            models[name] = BatchingModel(model, policy)
