"""``modelport db upgrade`` and ``modelport history purge``: looking after the prediction store."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from modelport.config import Settings
from modelport.store import Store
from modelport.store.migrate import current_revision
from modelport.store.queries import purge


def _store() -> Store:
    return Store(Settings.from_env().database)


@click.group("db")
def db_command() -> None:
    """The prediction database (SQLite by default, MODELPORT_DATABASE_URL for PostgreSQL)."""


@db_command.command("upgrade")
def upgrade_command() -> None:
    """Apply the database migrations (the app also does this when it starts)."""
    store = _store()
    store.upgrade()
    click.echo(f"database at revision {current_revision(store)}")


@click.group("history")
def history_command() -> None:
    """The stored predictions."""


@history_command.command("purge")
@click.option(
    "--before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Delete predictions made before this date (UTC), e.g. 2025-01-31.",
)
@click.option(
    "--include-corrections",
    is_flag=True,
    help="Also delete predictions people gave feedback on (the models learned from them).",
)
def purge_command(before: datetime, include_corrections: bool) -> None:
    """Delete old predictions; those with feedback are kept unless asked."""
    store = _store()
    store.upgrade()
    deleted = purge(store, before.replace(tzinfo=UTC), include_corrections=include_corrections)
    kept = "" if include_corrections else " (predictions with feedback kept)"
    click.echo(f"deleted {deleted} predictions made before {before:%Y-%m-%d %H:%M:%S} UTC{kept}")
