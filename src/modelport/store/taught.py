"""Taught models and their examples in the database: made, given examples, trained,
deleted. Every change bumps the model's revision (``TAUGHT_PREFIX`` + name) in
``learning_revisions``, which every worker of every replica follows (``corrections_feed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from modelport.store.db import Store
from modelport.store.learned import bump
from modelport.store.tables import TaughtExampleRow, TaughtModelRow

TAUGHT_PREFIX = "taught:"


class NameTaken(Exception):
    """A taught model of that name exists already."""


@dataclass(frozen=True)
class NewExample:
    label: str
    embedding: np.ndarray
    thumbnail: bytes
    source: str = "upload"
    prediction_id: str | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class Example:
    id: int
    label: str
    source: str
    embedding: np.ndarray | None  # loaded only when asked (``get(..., embeddings=True)``)


@dataclass(frozen=True)
class Taught:
    """A taught model as the database has it, with its examples (no thumbnails)."""

    name: str
    base: str
    created_at: datetime
    created_by: str | None
    trained: bool
    evaluation: dict[str, Any] | None
    examples: list[Example]

    @property
    def labels(self) -> list[str]:
        return [example.label for example in self.examples]

    def embeddings(self) -> np.ndarray:
        if not self.examples:
            return np.zeros((0, 0), np.float32)
        return np.stack([example.embedding for example in self.examples])

    def class_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for example in self.examples:
            counts[example.label] = counts.get(example.label, 0) + 1
        return counts


def revision_key(name: str) -> str:
    return TAUGHT_PREFIX + name


def create(store: Store, name: str, base: str, created_by: str | None) -> None:
    try:
        with store.writing() as session:
            session.add(
                TaughtModelRow(
                    name=name,
                    base=base,
                    created_at=datetime.now(UTC),
                    created_by=created_by,
                    trained=False,
                )
            )
            bump(session, [revision_key(name)])
    except IntegrityError:
        raise NameTaken(name) from None


def get(store: Store, name: str, embeddings: bool = False) -> Taught | None:
    """The taught model and its examples; their ``embeddings`` (1,280 numbers each) only
    when asked, for what learns from them rather than lists them."""
    with store.session() as session:
        row = session.get(TaughtModelRow, name)
        return None if row is None else _taught(session, row, embeddings)


def everything(store: Store) -> list[Taught]:
    """Every taught model, by name, with its examples but not their embeddings."""
    with store.session() as session:
        rows = session.scalars(select(TaughtModelRow).order_by(TaughtModelRow.name))
        return [_taught(session, row, embeddings=False) for row in rows]


def _taught(session, row: TaughtModelRow, embeddings: bool) -> Taught:
    columns = [TaughtExampleRow.id, TaughtExampleRow.label, TaughtExampleRow.source]
    if embeddings:
        columns.append(TaughtExampleRow.embedding)
    query = (
        select(*columns)
        .where(TaughtExampleRow.model_name == row.name)
        .order_by(TaughtExampleRow.id)
    )
    examples = [
        Example(
            found[0],
            found[1],
            found[2],
            np.frombuffer(found[3], np.float32) if embeddings else None,
        )
        for found in session.execute(query)
    ]
    return Taught(
        row.name,
        row.base,
        row.created_at,
        row.created_by,
        row.trained,
        row.evaluation,
        examples,
    )


def add_examples(store: Store, name: str, examples: list[NewExample]) -> list[int]:
    """Store the examples (the model must exist); their ids, in order."""
    now = datetime.now(UTC)
    with store.writing() as session:
        rows = [
            TaughtExampleRow(
                model_name=name,
                label=example.label,
                embedding=np.asarray(example.embedding, np.float32).tobytes(),
                thumbnail=example.thumbnail,
                source=example.source,
                prediction_id=example.prediction_id,
                created_at=now,
                created_by=example.created_by,
            )
            for example in examples
        ]
        session.add_all(rows)
        session.flush()
        bump(session, [revision_key(name)])
        return [row.id for row in rows]


def thumbnail(store: Store, name: str, example_id: int) -> bytes | None:
    query = select(TaughtExampleRow.thumbnail).where(
        TaughtExampleRow.model_name == name, TaughtExampleRow.id == example_id
    )
    with store.session() as session:
        return session.scalar(query)


def delete_example(store: Store, name: str, example_id: int) -> bool:
    return bool(_delete_examples(store, name, TaughtExampleRow.id == example_id))


def delete_class(store: Store, name: str, label: str) -> int:
    return _delete_examples(store, name, TaughtExampleRow.label == label)


def _delete_examples(store: Store, name: str, which) -> int:
    with store.writing() as session:
        result = session.execute(
            delete(TaughtExampleRow).where(TaughtExampleRow.model_name == name, which)
        )
        bump(session, [revision_key(name)])
    return int(result.rowcount or 0)


def mark_trained(store: Store, name: str, evaluation: dict[str, Any]) -> None:
    with store.writing() as session:
        row = session.get(TaughtModelRow, name)
        if row is not None:
            row.trained = True
            row.evaluation = evaluation
            bump(session, [revision_key(name)])


def delete_model(store: Store, name: str) -> bool:
    with store.writing() as session:
        session.execute(delete(TaughtExampleRow).where(TaughtExampleRow.model_name == name))
        result = session.execute(delete(TaughtModelRow).where(TaughtModelRow.name == name))
        bump(session, [revision_key(name)])
    return bool(result.rowcount)
