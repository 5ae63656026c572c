"""The registry: loads the configured models from the model store once, at start.

Adding a built-in model means adding its module (with a ``load(store, threads=...)``
function) to ``LOADERS``; routes find it by name.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable

from modelport.models.base import Model, UnknownModel
from modelport.models.store import ModelStore

log = logging.getLogger(__name__)

LOADERS: dict[str, str] = {
    "digits": "modelport.models.digits_cnn:load",
    "digits-knn": "modelport.models.digits_knn:load",
    "efficientnet-lite0": "modelport.models.efficientnet:load",
}
DEFAULT_SKETCH_MODEL = "digits"


class Registry:
    def __init__(self, models: Iterable[Model], failures: dict[str, str] | None = None) -> None:
        self.models: dict[str, Model] = {model.name: model for model in models}
        self.failures: dict[str, str] = dict(failures or {})

    @classmethod
    def load(cls, store: ModelStore, names: Iterable[str], threads: int = 1) -> Registry:
        models, failures = [], {}
        for name in names:
            if name not in LOADERS:
                failures[name] = "no such built-in model"
                log.error("model %s: no such built-in model (known: %s)", name, sorted(LOADERS))
                continue
            module_name, _, function = LOADERS[name].partition(":")
            try:
                loader = getattr(importlib.import_module(module_name), function)
                models.append(loader(store, threads=threads))
            except Exception as exc:  # one broken model must not keep the others down
                failures[name] = f"{type(exc).__name__}: {exc}"
                log.exception("model %s failed to load", name)
        return cls(models, failures)

    @property
    def ready(self) -> bool:
        return bool(self.models) and not self.failures

    def get(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModel(name, sorted(self.models)) from None

    def default_for(self, kind: str) -> Model:
        if kind == "sketch" and DEFAULT_SKETCH_MODEL in self.models:
            return self.models[DEFAULT_SKETCH_MODEL]
        for model in self.models.values():
            if model.input_kind == kind:
                return model
        raise UnknownModel(f"any {kind} model", sorted(self.models))

    def __iter__(self):
        return iter(self.models.values())

    def __contains__(self, name: object) -> bool:
        return name in self.models
