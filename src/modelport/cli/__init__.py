"""The ``modelport`` command: serve, train, evaluate, predict, list, add and remove models,
look after the prediction store."""

from __future__ import annotations

import click

from modelport.cli.add import add_command, remove_command
from modelport.cli.db import db_command, history_command
from modelport.cli.models import models_command, predict_command
from modelport.cli.people import tokens_command, users_command
from modelport.cli.serve import serve_command
from modelport.cli.teach import teach_command
from modelport.cli.train import eval_command, train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelport")
def main() -> None:
    """Modelport: put a trained model in front of people."""


main.add_command(serve_command)
main.add_command(train_command)
main.add_command(eval_command)
main.add_command(predict_command)
main.add_command(models_command)
main.add_command(add_command)
main.add_command(remove_command)
main.add_command(db_command)
main.add_command(history_command)
main.add_command(users_command)
main.add_command(tokens_command)
main.add_command(teach_command)
