"""``modelport teach NAME --class cat cats/*.jpg --class dog dogs/*.jpg``: a classifier
taught from folders of pictures, trained, and served by ``modelport serve`` (every
replica on the same database) at once; ``--export DIR`` also writes its ONNX file and
``modelport.toml``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelport import teaching
from modelport.config import Settings
from modelport.inputs import InputError
from modelport.inputs.decode import Limits
from modelport.models.registry import Registry
from modelport.models.repository import ModelRepository
from modelport.models.taught import TaughtModel
from modelport.models.taught_export import onnx_bytes, settings_toml
from modelport.store import Store
from modelport.store import taught as taught_store
from modelport.store.learned import revisions

BASE = "efficientnet-lite0"
CLASS_FLAG = "--class"
CREATED_BY = "command line"


def classes_from(words: tuple[str, ...]) -> dict[str, list[Path]]:
    """``--class LABEL FILE...`` repeated, as {label: files}."""
    classes: dict[str, list[Path]] = {}
    label = None
    for word in words:
        if word == CLASS_FLAG:
            label = ""
        elif label == "":
            label = word
            classes.setdefault(label, [])
        elif label is None:
            raise click.UsageError(f"{word}: give {CLASS_FLAG} LABEL before its pictures")
        else:
            classes[label].append(Path(word))
    if label == "":
        raise click.UsageError(f"{CLASS_FLAG} needs a label")
    empty = [name for name, files in classes.items() if not files]
    if len(classes) < 2 or empty:
        raise click.UsageError(
            f"give at least two classes, each with pictures: {CLASS_FLAG} cat cats/*.jpg "
            f"{CLASS_FLAG} dog dogs/*.jpg" + (f" ({', '.join(empty)} has none)" if empty else "")
        )
    return classes


@click.command(
    "teach",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("name")
@click.option("--replace", is_flag=True, help="Teach it anew if NAME exists.")
@click.option(
    "--export",
    "export_to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write NAME.onnx and modelport.toml into this folder.",
)
@click.argument("classes", nargs=-1, type=click.UNPROCESSED)
def teach_command(name: str, replace: bool, export_to: Path | None, classes: tuple[str, ...]):
    """Teach NAME from pictures: --class LABEL FILE... for each class (two or more)."""
    pictures = classes_from(classes)
    settings = Settings.from_env()
    store = Store(settings.database)
    store.upgrade()
    registry = Registry.load(ModelRepository(settings.model_store_path), [BASE])
    limits = Limits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    try:
        teaching.check_name(name, registry)
        base = teaching.base_model(registry)
        examples = {  # every picture read before anything is stored
            label: teaching.examples_from_pictures(
                base, [(str(p), _read(p)) for p in files], label, limits, created_by=CREATED_BY
            )
            for label, files in pictures.items()
        }
        if replace and taught_store.get(store, name) is not None:
            taught_store.delete_model(store, name)
        teaching.create(store, registry, name, CREATED_BY)
        for label, made in examples.items():
            teaching.add_examples(store, registry, name, made)
            click.echo(f"{label}: {len(made)} examples")
        evaluation, train_ms = teaching.train(store, name)
    except InputError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(
        f"{name}: leave-one-out accuracy {evaluation.accuracy:.1%} over "
        f"{evaluation.examples} examples ({train_ms:.0f} ms); served by `modelport serve` "
        f"at /models/{name}"
    )
    if export_to is not None:
        _export(store, registry, name, export_to)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError("unreadable_file", f"{path}: {exc.strerror or exc}", 400) from None


def _export(store: Store, registry: Registry, name: str, folder: Path) -> None:
    taught = teaching.existing(store, name, embeddings=True)
    model = TaughtModel(
        name,
        teaching.base_model(registry),
        taught.embeddings(),
        taught.labels,
        version=f"taught.{revisions(store).get(taught_store.revision_key(name), 0)}",
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.onnx").write_bytes(onnx_bytes(model))
    (folder / "modelport.toml").write_text(settings_toml(model))
    click.echo(f"wrote {folder / (name + '.onnx')} and {folder / 'modelport.toml'}")
