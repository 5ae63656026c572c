"""``modelport add`` and ``modelport remove``: models in and out of the model store.

The work is done in :mod:`modelport.models.installing`; this module turns the command
line into a request and the outcome into text. Every refusal is a click error with the
reason, never a traceback: the person adding a model needs to know what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from modelport.config import Settings
from modelport.models import importing
from modelport.models.converters import ConversionFailed
from modelport.models.installing import Added, AddRequest, Refused, add_model, remove_model
from modelport.models.settings import KINDS, BadModelFolder

SHOWN_LABELS = 5


def _read_with(reader: Callable[[Path], list]) -> Callable:
    """A click callback reading its option's file with ``reader``; a file that cannot be
    read is the option's error, naming the file."""

    def read(ctx: click.Context, param: click.Parameter, path: Path | None) -> list | None:
        if path is None:
            return None
        try:
            return reader(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise click.BadParameter(f"{path}: {exc}", ctx, param) from None

    return read


def _categories(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, list[str]]:
    try:
        return dict(importing.parse_category(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _trust(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple:
    return tuple(t.strip() for value in values for t in value.split(",") if t.strip())


@click.command("add")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", help="The model's name in URLs (default: from the file or folder).")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="What the model takes (default: guessed from its input).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=_read_with(importing.read_labels_file),
    help="A text file of class names, one a line, in the order of the model's outputs.",
)
@click.option(
    "--features",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=_read_with(importing.read_features_file),
    help="A tabular model's input columns: names one a line, or a TOML file of [[features]].",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="NAME=A,B,...",
    callback=_categories,
    help="A tabular feature that takes one of these texts (repeatable).",
)
@click.option(
    "--trust",
    multiple=True,
    metavar="TYPE",
    callback=_trust,
    help="A type in a .skops file to load although skops does not trust it (repeatable).",
)
@click.option("--replace", is_flag=True, help="Replace the model already under this name.")
def add_command(
    path: Path,
    name: str | None,
    kind: str | None,
    labels: list[str] | None,
    features: list | None,
    categories: dict[str, list[str]],
    trust: tuple[str, ...],
    replace: bool,
) -> None:
    """Add the model at PATH to the model store, checked, and say what was inferred.

    PATH is a model folder (holding a modelport.toml) or a model file: .onnx, .skops
    (scikit-learn, saved with skops), .pt2 (torch.export.save) or .keras/.h5, the last
    two converted to ONNX here and checked against the framework's own outputs.
    """
    store = Settings.from_env().model_store_path
    choices = importing.Choices(kind, labels, features, categories, trust)
    request = AddRequest(path, name, choices, replace)
    try:
        added = add_model(store, request)
    except (BadModelFolder, ConversionFailed, Refused, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a file no check foresaw: say what, not where in our code
        raise click.ClickException(
            f"{path}: cannot be added: {type(exc).__name__}: {exc}"
        ) from None
    for warning in added.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(describe(added))


def describe(added: Added) -> str:
    """What was added, what was inferred and where to find it, as the terminal shows it."""
    model = added.model
    settings = model.settings
    verb = {"added": "Replaced", "built-in": "Added (in place of the built-in)"}.get(
        added.replaced or "", "Added"
    )
    notes = {note.partition(":")[0]: note for note in added.notes}
    lines = [f"{verb} {model.name} ({settings.kind}) from {added.source} in {added.path}"]
    lines += [f"  {note}" for key, note in notes.items() if key not in ("labels", "features")]
    shown = ", ".join(model.labels[:SHOWN_LABELS])
    more = ", ..." if len(model.labels) > SHOWN_LABELS else ""
    how = notes.get("labels", "").removeprefix("labels")
    lines.append(f"  labels: {len(model.labels)} ({shown}{more}){how}")
    if settings.kind == "tabular":
        how = notes.get("features", "").removeprefix("features:")
        lines.append(f"  features: {len(settings.features)},{how}")
        for feature in settings.features:
            if feature.type == "category":
                lines.append(f"    {feature.name}: one of {', '.join(feature.choices or [])}")
            else:
                lines.append(f"    {feature.name}: number")
    else:
        p = settings.preprocess
        lines.append(
            f"  preprocess: {p.layout} {list(p.input_shape())}, {p.channels}, "
            f"size {p.width}x{p.height}, resize {p.resize}, "
            f"(pixel / {p.scale:g} - mean {list(p.mean)}) / std {list(p.std)}"
        )
    if settings.trust and "trust" not in notes:
        lines.append(f"  trust: {', '.join(settings.trust)}")
    lines.append(f"  page: /models/{model.name}")
    lines.append(f"  API:  POST /api/v1/models/{model.name}/predict")
    return "\n".join(lines)


@click.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Remove the added model NAME from the model store (built-in models stay)."""
    store = Settings.from_env().model_store_path
    try:
        path, built_in = remove_model(store, name)
    except (Refused, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed {name} ({path})")
    if built_in:
        click.echo(f"The built-in {name} is served again in its place.")
