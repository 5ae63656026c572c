"""Settings from ``MODELPORT_*`` environment variables, read in this one place.

Every setting has a default that works on a laptop: data and models live under the
instance folder (``./instance`` unless ``MODELPORT_INSTANCE_PATH`` says otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PREFIX = "MODELPORT_"


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _parse_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    model_store: Path | None = None
    database_url: str | None = None
    # Which models of the repository to serve; empty for all of them.
    models: tuple[str, ...] = ()
    max_upload_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    keep_uploads: bool = False
    ort_threads: int = 0
    log_level: str = "INFO"
    # Serving (``modelport serve``); 0 means sized from the core count.
    workers: int = 0
    threads: int = 0
    # Dynamic batching: each model's folder says; "model=max_batch_size/max_wait_ms,..."
    # overrides it for the models named, and "off" batches nothing.
    batching: str = ""

    @property
    def model_store_path(self) -> Path:
        return self.model_store or self.instance_path / "models"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'modelport.db'}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Build settings from the environment; ``overrides`` (used by tests) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _convert(f.name, raw)
        settings = cls(**values)
        return replace(settings, **overrides) if overrides else settings


def _convert(name: str, raw: str) -> object:
    try:
        if name in {"instance_path", "model_store"}:
            return Path(raw).expanduser().resolve()
        if name == "models":
            return _parse_list(raw)
        if name in {"max_upload_bytes", "max_image_pixels", "ort_threads", "workers", "threads"}:
            return int(raw)
        if name == "keep_uploads":
            return _parse_bool(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}: {exc}") from exc
    return raw
