"""The registry: every model of the repository, loaded once at start, one way.

A folder is served by :class:`FolderModel` (its kind's input adapter and its file's
runtime); only folders that ship with Modelport may name an ``implementation`` to build
the model in code. A model that fails to load is kept with its reason and the others
serve on.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from pathlib import Path

from modelport.models.base import Model, UnknownModel
from modelport.models.batching import BatchPolicy
from modelport.models.folder_model import FolderModel
from modelport.models.repository import ModelFolder, ModelRepository
from modelport.models.settings import BadModelFolder

log = logging.getLogger(__name__)


def load_model(folder: ModelFolder, repository: ModelRepository, threads: int = 1) -> Model:
    implementation = folder.settings.implementation
    if implementation is None:
        return FolderModel(folder, threads)
    module_name, _, function = implementation.partition(":")
    factory = getattr(importlib.import_module(module_name), function)
    return factory(folder, repository, threads=threads)


def implementation_modules(folders: Iterable[ModelFolder]) -> list[str]:
    return [
        folder.settings.implementation.partition(":")[0]
        for folder in folders
        if folder.settings.implementation
    ]


def folder_policies(folders: Iterable[ModelFolder]) -> dict[str, BatchPolicy]:
    """Batching as each folder's ``[batching]`` asks for it, by model name."""
    return {
        folder.name: BatchPolicy(batching.max_batch_size, batching.max_wait_ms)
        for folder in folders
        if (batching := folder.settings.batching) is not None
    }


class Registry:
    def __init__(
        self,
        models: Iterable[Model],
        failures: dict[str, str] | None = None,
        policies: dict[str, BatchPolicy] | None = None,
    ) -> None:
        self.models: dict[str, Model] = {model.name: model for model in models}
        self.failures: dict[str, str] = dict(failures or {})
        # Batching as each model's own folder asks for it.
        self.policies: dict[str, BatchPolicy] = dict(policies or {})

    @classmethod
    def load(
        cls, repository: ModelRepository, names: Iterable[str] = (), threads: int = 1
    ) -> Registry:
        """Every model in ``repository``, or only ``names`` when given."""
        folders, failures = repository.scan()
        wanted = list(names)
        if wanted:
            found = {folder.name for folder in folders}
            failures = {name: reason for name, reason in failures.items() if name in wanted}
            for name in wanted:
                if name not in found and name not in failures:
                    failures[name] = f"no model folder named {name} in {repository.store}"
                    log.error("model %s: %s", name, failures[name])
            folders = [folder for folder in folders if folder.name in wanted]
        models, loaded = [], []
        for folder in folders:
            try:
                models.append(load_model(folder, repository, threads))
            except Exception as exc:  # one broken model must not keep the others down
                detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
                failures[folder.name] = detail
                log.error("model %s failed to load: %s", folder.name, detail)
                continue
            loaded.append(folder)
        return cls(models, failures, folder_policies(loaded))

    @property
    def expected(self) -> list[str]:
        """Every model this registry should serve: loaded or failed."""
        return list(self.models) + [name for name in self.failures if name not in self.models]

    @property
    def ready(self) -> bool:
        return bool(self.models) and not self.failures

    def get(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModel(name, sorted(self.models)) from None

    def default_for(self, kind: str) -> Model:
        of_kind = [model for model in self.models.values() if model.input_kind == kind]
        for model in of_kind:
            settings = model.info.settings
            if settings is not None and settings.default:
                return model
        if of_kind:
            return of_kind[0]
        raise UnknownModel(f"any {kind} model", sorted(self.models))

    def __iter__(self):
        return iter(self.models.values())

    def __contains__(self, name: object) -> bool:
        return name in self.models


def load_one(store: Path, name: str, threads: int = 1) -> Model:
    """One model of the repository over ``store``, by name (for the CLI, tests and
    benchmarks); an unreadable folder raises its ``BadModelFolder``."""
    repository = ModelRepository(store)
    folders, failures = repository.scan()
    for folder in folders:
        if folder.name == name:
            return load_model(folder, repository, threads)
    if name in failures:
        raise BadModelFolder(name, failures[name])
    raise UnknownModel(name, sorted(folder.name for folder in folders))
