"""Teaching a classifier from examples: what the API, the pages and ``modelport teach``
share. A picture becomes an example (its thumbnail and its embedding by the base photo
model); training checks there is something to learn, measures the leave-one-out accuracy
and publishes the model (every worker then serves it, see ``taught_feed``); a correction of
a taught model's answer becomes one more example.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from modelport.inputs import InputError
from modelport.inputs.decode import Limits
from modelport.models.base import Model
from modelport.models.registry import Registry
from modelport.models.taught import MIN_CLASSES, Evaluation, classes_of, leave_one_out
from modelport.store import taught as taught_store
from modelport.store.db import Store
from modelport.store.images import thumbnail_jpeg
from modelport.store.taught_feed import embedding_model

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
LABEL_LENGTH = 64
MAX_PICTURES_PER_REQUEST = 50
MAX_EXAMPLES = 2000
EMBED_BATCH = 16
SOURCES = ("upload", "camera", "correction")


def base_model(registry: Registry) -> Model:
    """The photo model taught models learn on: the default photo model if it embeds."""
    candidates = [registry.default_for("photo")] if _has_photo(registry) else []
    candidates += [m for m in registry if m.input_kind == "photo"]
    for model in candidates:
        found = embedding_model(registry, model.name)
        if found is not None:
            return found
    raise InputError(
        "teaching_unavailable",
        "Teaching needs a photo model that gives embeddings (efficientnet-lite0); "
        "this server does not serve one.",
        503,
    )


def _has_photo(registry: Registry) -> bool:
    return any(model.input_kind == "photo" for model in registry)


def check_name(name: str, registry: Registry) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise InputError(
            "invalid_name",
            "A name is 1 to 48 lowercase letters, digits or dashes, starting with a letter "
            "or digit (it becomes the model's address).",
            400,
        )
    if name in registry:
        raise InputError("name_taken", f"A model named {name} is served already.", 409)
    return name


def check_label(label: str) -> str:
    label = (label or "").strip()
    if not label or len(label) > LABEL_LENGTH:
        raise InputError("invalid_label", f"A class name has 1 to {LABEL_LENGTH} characters.", 400)
    return label


def create(store: Store, registry: Registry, name: str, created_by: str | None) -> str:
    name = check_name(name, registry)
    try:
        taught_store.create(store, name, base_model(registry).name, created_by)
    except taught_store.NameTaken:
        raise InputError(
            "name_taken", f"A taught model named {name} exists already.", 409
        ) from None
    return name


def examples_from_pictures(
    base: Model,
    pictures: Iterable[tuple[str, bytes]],
    label: str,
    limits: Limits,
    source: str = "upload",
    created_by: str | None = None,
    prediction_id: str | None = None,
) -> list[taught_store.NewExample]:
    """Each picture (a file name and its bytes) as an example of ``label``; a picture that
    cannot be read refuses them all, naming it."""
    label = check_label(label)
    thumbnails, samples = [], []
    for filename, data in pictures:
        try:
            image = base.decode(data, limits)
        except InputError as exc:
            named = f"{filename or 'A picture'}: {exc.detail}"
            raise InputError(exc.code, named, exc.status) from None
        samples.append(base.prepare(image))
        thumbnails.append(thumbnail_jpeg(image))
    if not samples:
        raise InputError("no_pictures", "Send at least one picture (a file field).", 400)
    embeddings = np.concatenate(
        [
            base.embed(np.stack(samples[start : start + EMBED_BATCH]))
            for start in range(0, len(samples), EMBED_BATCH)
        ]
    )
    return [
        taught_store.NewExample(label, embedding, thumbnail, source, prediction_id, created_by)
        for embedding, thumbnail in zip(embeddings, thumbnails, strict=True)
    ]


def add_examples(
    store: Store, registry: Registry, name: str, examples: list[taught_store.NewExample]
) -> list[int]:
    taught = existing(store, name)
    if len(taught.examples) + len(examples) > MAX_EXAMPLES:
        raise InputError(
            "too_many_examples",
            f"A taught model keeps at most {MAX_EXAMPLES} examples; {name} has "
            f"{len(taught.examples)}.",
            409,
        )
    return taught_store.add_examples(store, name, examples)


def existing(store: Store, name: str, embeddings: bool = False) -> taught_store.Taught:
    taught = taught_store.get(store, name, embeddings)
    if taught is None:
        raise InputError("unknown_model", f"There is no taught model named {name!r}.", 404)
    return taught


def train(store: Store, name: str) -> tuple[Evaluation, float]:
    """Measure the examples (leave-one-out) and publish the model: its evaluation and the
    milliseconds it took."""
    taught = existing(store, name, embeddings=True)
    counts = taught.class_counts()
    if len(counts) < MIN_CLASSES or min(counts.values()) < 2:
        raise InputError(
            "not_enough_examples",
            "Give at least two classes, each with at least two examples, then train.",
            400,
        )
    started = time.perf_counter()
    evaluation = leave_one_out(taught.embeddings(), taught.labels)
    train_ms = (time.perf_counter() - started) * 1000
    taught_store.mark_trained(
        store,
        name,
        evaluation.as_json()
        | {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "train_ms": round(train_ms, 2),
        },
    )
    return evaluation, train_ms


def learn_correction(
    store: Store,
    registry: Registry,
    model_name: str,
    picture: bytes,
    label: str,
    limits: Limits,
    prediction_id: str,
    created_by: str | None,
) -> bool:
    """A corrected answer of a taught model: the picture becomes an example of ``label``."""
    taught = taught_store.get(store, model_name)
    if taught is None or label not in classes_of(taught.labels):
        return False
    base = embedding_model(registry, taught.base)
    if base is None:
        return False
    examples = examples_from_pictures(
        base,
        [("the corrected picture", picture)],
        label,
        limits,
        "correction",
        created_by,
        prediction_id,
    )
    add_examples(store, registry, model_name, examples)
    return True
