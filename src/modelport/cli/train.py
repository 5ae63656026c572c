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
        from modelport.training import digits

        options = {"seed": seed} | ({"epochs": epochs} if epochs else {})
        if with_feedback:
            options["extra"] = _feedback_drawings(settings)
        metrics = digits.train(store, **options)
    else:
        from modelport.training import efficientnet_export

        metrics = efficientnet_export.export(store)
    click.echo(json.dumps(metrics, indent=2, default=str))


def _feedback_drawings(settings: Settings):
    from modelport.store.feedback import corrected_drawings

    return corrected_drawings(settings)


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
