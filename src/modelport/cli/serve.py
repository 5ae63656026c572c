"""``modelport serve``: the production server (gunicorn), or Flask's reloader with ``--dev``."""

from __future__ import annotations

import os

import click

from modelport.config import Settings
from modelport.models.registry import Registry
from modelport.models.store import ModelStore


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def prepare_models(settings: Settings) -> Registry:
    """Train or export what is missing once, in the master, before any worker starts."""
    return Registry.load(ModelStore(settings.model_store_path), settings.models)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, default=None, help="Worker processes [default: cores].")
@click.option("--threads", type=int, default=2, show_default=True, help="Threads per worker.")
@click.option("--dev", is_flag=True, help="Flask's development server with auto-reload.")
def serve_command(host: str, port: int, workers: int | None, threads: int, dev: bool) -> None:
    """Run the web app and API."""
    settings = Settings.from_env()
    registry = prepare_models(settings)
    for name, reason in registry.failures.items():
        click.echo(f"warning: model {name} is not available: {reason}", err=True)
    del registry
    if dev:
        from modelport.app import create_app

        create_app(settings).run(host=host, port=port, debug=True, use_reloader=True)
        return
    from modelport.web.server import GunicornServer

    GunicornServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_workers(),
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "timeout": 60,
            "graceful_timeout": 20,
            "accesslog": "-",
        }
    ).run()
