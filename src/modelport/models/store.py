"""The model store: one folder per model holding its artifact and a ``metrics.json``.

Models trained on this machine live under the store (``<instance>/models`` by default);
models that ship with Modelport live in the package's ``artifacts`` folder and are used
when the store has none of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).with_name("artifacts")
METRICS = "metrics.json"


class ModelStore:
    def __init__(self, root: Path, bundled: Path = BUNDLED) -> None:
        self.root = Path(root)
        self.bundled = bundled

    def folder(self, name: str) -> Path:
        """This machine's folder for ``name``, created on demand."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def find(self, name: str, filename: str) -> Path | None:
        """The artifact trained here if there is one, else the one shipped with Modelport."""
        for base in (self.root, self.bundled):
            candidate = base / name / filename
            if candidate.is_file():
                return candidate
        return None

    def metrics(self, artifact: Path) -> dict[str, Any]:
        path = artifact.with_name(METRICS)
        if not path.is_file():
            return {}
        return json.loads(path.read_text())

    def write_metrics(self, name: str, metrics: dict[str, Any]) -> Path:
        path = self.folder(name) / METRICS
        write_atomically(path, json.dumps(metrics, indent=2, sort_keys=True).encode())
        return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a reader (another worker) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # as any file written here; mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
