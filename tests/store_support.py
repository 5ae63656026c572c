"""Real databases for the store tests: an SQLite file, and a PostgreSQL schema of its own.

PostgreSQL comes from ``MODELPORT_TEST_POSTGRES_URL`` (``scripts/start-postgres.sh`` starts
one; ``.ci/run`` does so in CI). Each test gets a fresh schema there, selected through
``search_path``, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from modelport.models.base import Prediction
from modelport.service import PredictionEvent, new_prediction_id
from modelport.store import Store

POSTGRES_ENV = "MODELPORT_TEST_POSTGRES_URL"
NO_POSTGRES = (
    f'{POSTGRES_ENV} is not set: start a server with `eval "$(scripts/start-postgres.sh)"`'
)


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("MODELPORT_REQUIRE_POSTGRES"):
        pytest.fail(NO_POSTGRES)
    if not url:
        pytest.skip(NO_POSTGRES)
    return url


def fresh_postgres_schema() -> Iterator[str]:
    """A URL whose connections use a new, empty schema, dropped afterwards."""
    base = postgres_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from fresh_postgres_schema()


@pytest.fixture
def store(database_url) -> Iterator[Store]:
    store = Store(database_url)
    store.upgrade()
    yield store
    store.dispose()


def event(
    model: str = "digits-knn",
    label: str = "1",
    kind: str = "sketch",
    image: Image.Image | None = None,
    data: bytes = b"",
    created_at: datetime | None = None,
    labels: tuple[str, ...] = ("1", "7"),
) -> PredictionEvent:
    """A prediction as the service hands it to the recorder."""
    image = image or Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    others = [Prediction(other, 0.1) for other in labels if other != label]
    return PredictionEvent(
        id=new_prediction_id(),
        created_at=created_at or datetime.now(UTC),
        model=model,
        model_version="1.0",
        input_kind=kind,
        input_bytes=data,
        image=image,
        predictions=[Prediction(label, 0.9), *others],
        latency_ms=2.5,
    )
