"""The model repository: every folder holding a ``modelport.toml``, one level deep, as in
Triton's and MLServer's model repositories. The scan is the only list of models.

Two roots are scanned, the model store first (models added with ``modelport add``) and
then the folders that ship with Modelport; a store folder of the same name wins. A
built-in model retrained on this machine keeps its shipped ``modelport.toml``: its new
artifact and ``metrics.json`` go in the store under the model's name and are used in
place of the shipped ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from modelport.models.settings import SETTINGS_FILE, BadModelFolder, ModelSettings, read_settings
from modelport.models.store import BUNDLED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    settings: ModelSettings
    # For a bundled folder: where this machine keeps a retrained artifact of it.
    override: Path | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def bundled(self) -> bool:
        return self.override is not None

    def find(self, filename: str) -> Path | None:
        """``filename`` in this machine's override first, then in the folder itself."""
        for base in (self.override, self.path):
            if base is not None and (base / filename).is_file():
                return base / filename
        return None

    @property
    def artifact(self) -> Path:
        found = self.find(self.settings.file)
        if found is None:
            raise BadModelFolder(self.path.name, f"file: {self.settings.file} is not in the folder")
        return found


def read_folder(path: Path, override: Path | None = None) -> ModelFolder:
    settings = read_settings(path)
    if settings.implementation is not None and override is None:
        # Python to import is for the folders that ship with Modelport, never a user's.
        raise BadModelFolder(path.name, "implementation: unknown key")
    return ModelFolder(path, settings, override)


class ModelRepository:
    def __init__(self, store: Path, bundled: Path = BUNDLED) -> None:
        self.store = Path(store)
        self.bundled = Path(bundled)

    def folders(self, root: Path) -> list[Path]:
        if not root.is_dir():
            return []
        return sorted(
            toml.parent
            for toml in root.glob(f"*/{SETTINGS_FILE}")
            if not toml.parent.name.startswith(".")
        )

    def scan(self) -> tuple[list[ModelFolder], dict[str, str]]:
        """Every readable folder, store first, and why each unreadable one is not."""
        found: dict[str, ModelFolder] = {}
        failures: dict[str, str] = {}
        for root in (self.store, self.bundled):
            for path in self.folders(root):
                override = self.store / path.name if root == self.bundled else None
                if path.name in failures:
                    continue  # a broken store folder is reported, not replaced by a built-in
                try:
                    folder = read_folder(path, override)
                except BadModelFolder as exc:  # one bad folder never stops the rest
                    if path.name not in found:
                        failures[path.name] = exc.detail
                        log.error("model folder %s: %s", path, exc.detail)
                    continue
                found.setdefault(folder.name, folder)
        return list(found.values()), failures

    def find(self, name: str) -> ModelFolder | None:
        folders, _ = self.scan()
        return next((folder for folder in folders if folder.name == name), None)

    def fingerprint(self) -> tuple:
        """Changes whenever a folder of the store is added, removed or rewritten."""
        stamps = []
        for path in self.folders(self.store):
            for item in sorted(path.iterdir()):
                try:
                    status = item.stat()
                except FileNotFoundError:
                    continue
                stamps.append((str(item), status.st_mtime_ns, status.st_size))
        return tuple(stamps)
