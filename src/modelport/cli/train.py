"""``modelport train`` and ``modelport eval``."""

from __future__ import annotations

import json

import click

from modelport.config import Settings
from modelport.models.store import ModelStore

TRAINABLE = ("digits", "digits-knn", "efficientnet-lite0")


@click.command("train")
@click.argument("model", type=click.Choice(TRAINABLE))
@click.option("--epochs", type=click.IntRange(1, 500), default=None, help="digits only.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--with-feedback", is_flag=True, help="digits: add people's corrected drawings.")
def train_command(model: str, epochs: int | None, seed: int, with_feedback: bool) -> None:
    """Train (or, for efficientnet-lite0, export) MODEL into the model store."""
    settings = Settings.from_env()
    store = ModelStore(settings.model_store_path)
    if model == "digits-knn":
        from modelport.models import digits_knn

        metrics = digits_knn.train(store, seed=seed)
    elif model == "digits":
        metrics = _train_digits(settings, store, epochs, seed, with_feedback)
    else:
        from modelport.training import efficientnet_export

        try:
            metrics = efficientnet_export.export(store)
        except efficientnet_export.ExportUnavailable as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(metrics, indent=2, default=str))


def _train_digits(
    settings: Settings, store: ModelStore, epochs: int | None, seed: int, with_feedback: bool
) -> dict:
    from modelport.training import digits

    options = {"seed": seed} | ({"epochs": epochs} if epochs else {})
    before = None
    if with_feedback:
        options["extra"] = _feedback_drawings(settings)
        before = _held_out_accuracy(store)
    try:
        metrics = digits.train(store, **options)
    except ModuleNotFoundError as exc:
        hint = f"training needs {exc.name}: pip install 'modelport[train]'"
        raise click.ClickException(hint) from None
    if with_feedback:
        shown = "no model" if before is None else f"{before:.4f}"
        after = metrics["validation_accuracy"]
        click.echo(f"held-out accuracy before: {shown}, after: {after:.4f}", err=True)
    return metrics


def _feedback_drawings(settings: Settings):
    from modelport.store.db import Store
    from modelport.store.learning import corrected_drawings

    store = Store(settings.database)
    store.upgrade()
    images, labels = corrected_drawings(store)
    click.echo(
        f"adding {len(labels)} corrected drawings to the training data (trusted corrections"
        " only: visitors' suggestions count once an operator accepts them)",
        err=True,
    )
    return images, labels


def _held_out_accuracy(store: ModelStore) -> float | None:
    from modelport.training import digits

    try:
        return digits.evaluate(store)["accuracy"]
    except FileNotFoundError:
        return None


@click.command("eval")
@click.argument("model", type=click.Choice(["digits"]))
def eval_command(model: str) -> None:
    """Print MODEL's accuracy and confusion matrix on its held-out split."""
    from modelport.training import digits

    settings = Settings.from_env()
    report = digits.evaluate(ModelStore(settings.model_store_path))
    click.echo(f"accuracy: {report['accuracy']:.4f} on {report['samples']} held-out digits")
    click.echo("confusion matrix (rows: true digit, columns: predicted):")
    click.echo("     " + " ".join(f"{d:>4}" for d in range(10)))
    for digit, row in enumerate(report["confusion_matrix"]):
        click.echo(f"{digit:>4} " + " ".join(f"{n:>4}" for n in row))
