"""``modelport models`` and ``modelport predict``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelport.config import Settings
from modelport.inputs import InputError
from modelport.inputs.decode import Limits
from modelport.models.registry import Registry
from modelport.models.repository import ModelRepository
from modelport.service import PredictionResult, predict_bytes, predict_rows


def _registry(settings: Settings, names: tuple[str, ...]) -> Registry:
    return Registry.load(ModelRepository(settings.model_store_path), names)


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_command(as_json: bool) -> None:
    """List the models, built-in and added, with name, version and input kind."""
    settings = Settings.from_env()
    repository = ModelRepository(settings.model_store_path)
    registry = Registry.load(repository, settings.models)
    folders, _ = repository.scan()
    # A model is built in when it comes from Modelport's own folders (retrained or not),
    # added when its folder is in the store (``modelport add``).
    source = {folder.name: "built-in" if folder.bundled else "added" for folder in folders}
    rows = [model.describe() | {"source": source.get(model.name, "added")} for model in registry]
    if as_json:
        click.echo(json.dumps({"models": rows, "failed": registry.failures}, indent=2))
        return
    click.echo(f"{'NAME':<20} {'VERSION':<22} {'INPUT':<8} {'FROM':<9} DESCRIPTION")
    for row in rows:
        click.echo(
            f"{row['name']:<20} {row['version']:<22} {row['input_kind']:<8} "
            f"{row['source']:<9} {row['description']}"
        )
    for name, reason in registry.failures.items():
        click.echo(f"{name:<20} {'-':<22} {'-':<8} {'-':<9} not available: {reason}")


@click.command("predict")
@click.argument("model")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--top", "top_k", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
def predict_command(model: str, files: tuple[Path, ...], top_k: int, as_json: bool) -> None:
    """Print MODEL's predictions for FILES: images, or for a tabular model JSON files
    holding a row ({"feature": value}) or a list of rows."""
    settings = Settings.from_env()
    registry = _registry(settings, (model,))
    if model not in registry:
        folders, _ = ModelRepository(settings.model_store_path).scan()
        known = ", ".join(sorted(folder.name for folder in folders))
        reason = registry.failures.get(model, "")
        raise click.ClickException(f"model {model!r} is not available ({reason}); known: {known}")
    chosen = registry.get(model)
    limits = Limits(settings.max_upload_bytes, settings.max_image_pixels)
    failed = 0
    for path in files:
        try:
            results = _predict_file(chosen, path, limits, top_k)
        except (InputError, OSError, ValueError) as exc:
            failed += 1
            detail = exc.detail if isinstance(exc, InputError) else str(exc)
            click.echo(f"{path}: error: {detail}", err=True)
            continue
        for result in results:
            if as_json:
                click.echo(json.dumps({"file": str(path)} | result.as_json()))
            else:
                shown = ", ".join(f"{p.label} ({p.score:.1%})" for p in result.predictions)
                click.echo(f"{path}: {shown}")
    if failed:
        raise SystemExit(1)


def _predict_file(model, path: Path, limits: Limits, top_k: int) -> list[PredictionResult]:
    if model.input_kind == "tabular":
        return predict_rows(model, json.loads(path.read_text("utf-8")), top_k=top_k)
    return [predict_bytes(model, path.read_bytes(), limits, top_k=top_k)]
