"""The Flask application factory: settings, models, recorder, blueprints, error pages."""

from __future__ import annotations

import logging

from flask import Flask
from flask_bootstrap import Bootstrap5

from modelport.config import Settings
from modelport.models.batching import policies_for, with_batching
from modelport.models.registry import Registry
from modelport.models.repository import ModelRepository
from modelport.service import Recorder
from modelport.store import SqlRecorder, Store
from modelport.store.corrections_feed import CorrectionsFeed
from modelport.store.retention import Retention
from modelport.store.taught_feed import TaughtModels
from modelport.web import (
    api,
    auth,
    errors,
    feedback_forms,
    health,
    history,
    limits,
    model_pages,
    observability,
    openapi,
    pages,
    photo,
    review,
    security,
    teach_api,
    teach_pages,
    v2,
)
from modelport.web.runtime import Runtime

# Base64 in a JSON body makes an image a third larger than the file itself.
BODY_OVERHEAD = 4 / 3
BODY_SLACK = 64 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    recorder: Recorder | None = None,
) -> Flask:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(
        "modelport",
        instance_path=str(settings.instance_path),
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update(
        MAX_CONTENT_LENGTH=int(settings.max_upload_bytes * BODY_OVERHEAD) + BODY_SLACK,
        BOOTSTRAP_SERVE_LOCAL=True,
    )
    app.json.sort_keys = False
    if registry is None:
        repository = ModelRepository(settings.model_store_path)
        registry = Registry.load(repository, settings.models, threads=max(1, settings.ort_threads))
    with_batching(registry.models, policies_for(registry.policies, settings.batching))
    database = Store(settings.database)
    database.upgrade_when_reachable()  # every worker does; they take turns under a lock
    app.extensions["modelport_store"] = database
    if recorder is None:
        recorder = SqlRecorder(
            database,
            keep_uploads=settings.keep_uploads,
            max_backlog=settings.recording_backlog,
            max_backlog_bytes=settings.recording_backlog_mb * 1024 * 1024,
            retention=Retention(settings.history_max_days, settings.history_max_rows),
        )
    rt = Runtime(settings=settings, registry=registry, recorder=recorder)
    rt.learning = CorrectionsFeed(
        database, registry.models, rt.limits, taught=TaughtModels(database, registry)
    )
    rt.learning.try_sync()  # what the models learned, before the worker says it is ready
    app.extensions["modelport"] = rt
    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions
    Bootstrap5(app)
    errors.init_app(app)
    security.init_app(app)  # headers, CSRF on forms, cookies, no cross-site writes
    limits.init_app(app, settings, database)  # per-client rate limits, shared by workers
    observability.init_app(app)
    auth.init_app(app, settings)  # g.caller (after the request is timed and logged)
    for blueprint in (
        api.bp,
        pages.bp,
        photo.bp,
        history.bp,
        model_pages.bp,
        health.bp,
        v2.bp,
        openapi.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(review.bp)
    app.register_blueprint(feedback_forms.bp)  # Right/Wrong as plain HTML forms
    app.register_blueprint(teach_api.bp)  # classifiers taught from examples
    app.register_blueprint(teach_pages.bp)  # /teach: the pages that teach them
    health.warm(app)  # before the first request, so no caller pays for a cold model
    return app
