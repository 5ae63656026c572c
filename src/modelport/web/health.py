"""``/healthz`` (the process answers) and ``/readyz`` (every configured model is loaded and
warmed), for load balancers and orchestrators.

Liveness must not depend on the models: a worker whose model failed to load is alive
(restarting it would not help) but not ready (it cannot serve that model). Nor is a worker
ready while it cannot store predictions (the database is away, read-only or gone): it keeps
answering and holds them, and ``/readyz`` says why and how many wait. Nor is a worker that
has not yet read what the models learned from corrections (a replica joining a fleet).
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, current_app, jsonify

from modelport import telemetry
from modelport.models.warmup import warm_up
from modelport.web.runtime import runtime

bp = Blueprint("health", __name__)

WARMED = "modelport_warmed"


def warm(app: Flask) -> None:
    """Warm every loaded model; one that fails its warm-up makes the worker not ready."""
    registry = app.extensions["modelport"].registry
    timings, failures = warm_up(registry)
    registry.failures.update(failures)
    app.extensions[WARMED] = timings
    telemetry.MODELS_LOADED.set(len(timings))


def readiness(app: Flask) -> tuple[bool, dict]:
    """Whether this worker can serve every configured model, and why not."""
    rt = app.extensions["modelport"]
    warmed = app.extensions.get(WARMED)
    configured = rt.registry.expected
    missing = {
        name: rt.registry.failures.get(name, "not loaded")
        for name in configured
        if name not in rt.registry or name in rt.registry.failures
    }
    models_ready = not missing and warmed is not None and bool(configured)
    recording = _recording_health(rt.recorder)
    learned = rt.learning is None or rt.learning.synced or rt.learning.try_sync()
    ready = models_ready and learned and (recording is None or recording.ok)
    detail = {
        "status": "ready" if ready else "not_ready",
        "pid": os.getpid(),
        "models": {
            name: "ready" if name in rt.registry and warmed is not None else "loading"
            for name in configured
            if name not in missing
        }
        | {name: f"failed: {reason}" for name, reason in missing.items()},
    }
    if warmed is not None:
        detail["warmup_ms"] = {name: round(ms, 1) for name, ms in warmed.items()}
    if not learned:
        detail["learning"] = "cannot read what the models learned from the database"
    if recording is not None:
        detail["recording"] = recording.describe()
        detail["recording_backlog"] = recording.backlog
    return ready, detail


def _recording_health(recorder):
    """The recorder's ``RecordingHealth``, or None for a recorder that does not say."""
    health = getattr(recorder, "health", None)
    return health() if callable(health) else None


@bp.get("/healthz")
def healthz():
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz():
    runtime()  # the app is set up; anything else is a bug that the error handler reports
    ready, detail = readiness(current_app)
    if not ready:
        reasons = []
        if any(state != "ready" for state in detail["models"].values()) or not detail["models"]:
            reasons.append("Some models are not loaded yet or failed to load.")
        if "learning" in detail:
            reasons.append("What the models learned cannot be read from the database yet.")
        if detail.get("recording", "ok") != "ok":
            reasons.append(
                f"Predictions cannot be stored ({detail['recording_backlog']} held): "
                f"{detail['recording']}."
            )
        body = {"error": "not_ready", "detail": " ".join(reasons) or "Not ready."} | detail
        response = jsonify(body)
        response.status_code = 503
        return response
    return jsonify(detail)
