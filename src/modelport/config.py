"""Settings from ``MODELPORT_*`` environment variables, read in this one place.

Every setting has a default that works on a laptop: data and models live under the
instance folder (``./instance`` unless ``MODELPORT_INSTANCE_PATH`` says otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_network
from pathlib import Path

PREFIX = "MODELPORT_"
LEARN_FROM = ("trusted", "everyone", "nobody")
TEACHING = ("staff", "everyone")
RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
SHORT_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _parse_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_rate_limit(text: str) -> tuple[int, int] | None:
    """``"600/minute"`` as (600 requests, 60 seconds); None for ``"off"``."""
    value = text.strip().lower()
    if value in {"off", "none", "0", ""}:
        return None
    count, _, unit = value.partition("/")
    unit = unit.strip()
    seconds = RATE_UNITS.get(SHORT_UNITS.get(unit, unit))
    seconds = seconds or RATE_UNITS.get(unit.removesuffix("s"))
    try:
        requests = int(count)
    except ValueError:
        requests = 0
    if seconds is None or requests < 1:
        raise ValueError(f"not a rate limit: {text!r} (say e.g. 600/minute, 10/second or off)")
    return requests, seconds


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
    # Predictions each worker holds while the database is away (then they are dropped).
    recording_backlog: int = 50_000
    recording_backlog_mb: int = 256
    # History retention: predictions older than this many days, or beyond this many rows,
    # are deleted as new ones come (those with feedback are kept); 0 for no bound.
    history_max_days: int = 0
    history_max_rows: int = 0
    ort_threads: int = 0
    log_level: str = "INFO"
    # Serving (``modelport serve``); 0 means sized from the core count.
    workers: int = 0
    threads: int = 0
    # Dynamic batching: each model's folder says; "model=max_batch_size/max_wait_ms,..."
    # overrides it for the models named, and "off" batches nothing.
    batching: str = ""
    # Web security (web/security.py): cookies only over HTTPS when served behind it; the
    # sites allowed to frame the pages (CSP frame-ancestors; none by default); the key
    # that signs cookies and CSRF tokens (kept in the instance folder when not given).
    secure_cookies: bool = False
    frame_ancestors: tuple[str, ...] = ()
    secret_key: str | None = field(default=None, repr=False)
    # Who may do what (web/auth.py). What models learn on the spot: "trusted" (corrections
    # by teachers and operators, and a visitor's once an operator accepts it), "everyone" or
    # "nobody". A demo's history open to every visitor, on purpose. The networks besides
    # loopback that may read /metrics. How many proxies in front set X-Forwarded-For (so
    # that clients are told apart by their own address; 0 when clients connect directly).
    learn_from: str = "trusted"
    # Who may teach a classifier at /teach: teachers and operators ("staff"), or, for a
    # classroom, "everyone".
    teaching: str = "staff"
    public_history: bool = False
    metrics_allow: tuple[str, ...] = ()
    trusted_proxies: int = 0
    # Requests per client ("600/minute", "10/second", "off"); teachers and operators exempt.
    rate_limit_predict: str = "600/minute"
    rate_limit_feedback: str = "30/minute"
    rate_limit_login: str = "10/minute"

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
        if name in {"models", "frame_ancestors"}:
            return _parse_list(raw)
        if name == "metrics_allow":
            return tuple(str(ip_network(net, strict=False)) for net in _parse_list(raw))
        if name == "teaching":
            if raw.strip().lower() not in TEACHING:
                raise ValueError(f"must be one of {', '.join(TEACHING)}, not {raw!r}")
            return raw.strip().lower()
        if name == "learn_from":
            if raw.strip().lower() not in LEARN_FROM:
                raise ValueError(f"must be one of {', '.join(LEARN_FROM)}, not {raw!r}")
            return raw.strip().lower()
        if name.startswith("rate_limit_"):
            parse_rate_limit(raw)
            return raw.strip().lower()
        if name == "trusted_proxies":
            return int(raw)
        if name in {"max_upload_bytes", "max_image_pixels", "ort_threads", "workers", "threads"}:
            return int(raw)
        if name in {
            "recording_backlog",
            "recording_backlog_mb",
            "history_max_days",
            "history_max_rows",
        }:
            return int(raw)
        if name in {"keep_uploads", "secure_cookies", "public_history"}:
            return _parse_bool(raw)
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}: {exc}") from exc
    return raw
