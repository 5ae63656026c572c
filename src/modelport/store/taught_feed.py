"""Serves every trained taught model the database has, in step with it: a taught model is
made, given examples, trained or deleted through any replica, and each worker of each
replica (re)builds it from its examples when its revision changes (``CorrectionsFeed``
reads the revisions, for both).
"""

from __future__ import annotations

import logging
from typing import Any

from modelport.models.base import Model
from modelport.models.batching import BatchingModel, unwrapped
from modelport.models.registry import Registry
from modelport.models.taught import MIN_CLASSES, TaughtModel, classes_of
from modelport.store import taught as taught_store
from modelport.store.db import Store

log = logging.getLogger(__name__)


def embedding_model(registry: Registry, name: str) -> Model | None:
    """The served model ``name`` if it can embed a photo (under its batching wrapper)."""
    model = unwrapped(registry.models.get(name))
    return model if model is not None and getattr(model, "embeds", False) else None


def taught_model(registry: Registry, name: str) -> TaughtModel | None:
    """The taught model served as ``name`` (under its batching wrapper), if there is one."""
    model = unwrapped(registry.models.get(name))
    return model if isinstance(model, TaughtModel) else None


class TaughtModels:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._revisions: dict[str, int] = {}

    def sync(self, revisions: dict[str, int]) -> None:
        prefix = taught_store.TAUGHT_PREFIX
        for key, revision in revisions.items():
            if key.startswith(prefix) and self._revisions.get(key) != revision:
                self._rebuild(key.removeprefix(prefix), revision)
                self._revisions[key] = revision

    def _rebuild(self, name: str, revision: int) -> None:
        taught = taught_store.get(self.store, name, embeddings=True)
        current = self.registry.models.get(name)
        if current is not None and taught_model(self.registry, name) is None:
            log.warning("taught model %s is not served: a model folder has that name", name)
            return
        servable = (
            taught is not None and taught.trained and len(classes_of(taught.labels)) >= MIN_CLASSES
        )
        base = embedding_model(self.registry, taught.base) if taught is not None else None
        if not servable or base is None:
            if current is not None:
                del self.registry.models[name]
                log.info("taught model %s is no longer served", name)
            return
        model = TaughtModel(
            name,
            base,
            taught.embeddings(),
            taught.labels,
            version=f"taught.{revision}",
            metrics=card_metrics(taught),
        )
        # Batched as its base model is: concurrent photos share one run of the CNN.
        policy = self.registry.policies.get(taught.base)
        enabled = policy is not None and policy.enabled
        self.registry.models[name] = BatchingModel(model, policy) if enabled else model
        log.info("serving taught model %s (%d examples)", name, len(taught.examples))


def card_metrics(taught: taught_store.Taught) -> dict[str, Any]:
    """What the model card says of a taught model."""
    metrics: dict[str, Any] = {
        "training_data": (
            f"{len(taught.examples)} examples taught in Modelport "
            f"({', '.join(f'{label}: {n}' for label, n in taught.class_counts().items())})"
            + (f" by {taught.created_by}" if taught.created_by else "")
        ),
        "base_model": taught.base,
        "examples": len(taught.examples),
    }
    evaluation = taught.evaluation or {}
    if "accuracy" in evaluation:
        metrics["validation_accuracy"] = evaluation["accuracy"]
        metrics["validation_note"] = (
            f"leave-one-out over the {evaluation.get('examples', '?')} examples when trained"
        )
    if "trained_at" in evaluation:
        metrics["trained_at"] = evaluation["trained_at"]
    return metrics
