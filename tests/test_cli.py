"""The ``modelport`` command through click's runner, against a real model store."""

from __future__ import annotations

import json

import pytest
from conftest import drawn_one

from modelport.cli import main


@pytest.fixture
def cli_env(tmp_path, model_store):
    return {
        "MODELPORT_INSTANCE_PATH": str(tmp_path),
        "MODELPORT_MODEL_STORE": str(model_store),
        "MODELPORT_MODELS": "digits,digits-knn",
    }


def test_models_lists_name_version_and_input_kind(cli_runner, cli_env):
    result = cli_runner.invoke(main, ["models"], env=cli_env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["NAME", "VERSION", "INPUT"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["digits"][2] == "sketch"
    assert rows["digits-knn"][2] == "sketch"


def test_models_as_json(cli_runner, cli_env):
    result = cli_runner.invoke(main, ["models", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    names = {m["name"] for m in json.loads(result.output)["models"]}
    assert names == {"digits", "digits-knn"}


def test_predict_prints_the_digit_for_each_file(cli_runner, cli_env, tmp_path):
    one = tmp_path / "one.png"
    one.write_bytes(drawn_one())
    result = cli_runner.invoke(main, ["predict", "digits", str(one)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{one}: 1 (")
    as_json = cli_runner.invoke(main, ["predict", "digits-knn", "--json", str(one)], env=cli_env)
    assert json.loads(as_json.output)["predictions"][0]["label"] == "1"


def test_predict_reports_bad_files_and_fails(cli_runner, cli_env, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    result = cli_runner.invoke(main, ["predict", "digits-knn", str(text)], env=cli_env)
    assert result.exit_code == 1
    assert "not a supported image" in result.output


def test_predict_with_an_unknown_model_says_which_exist(cli_runner, cli_env, tmp_path):
    one = tmp_path / "one.png"
    one.write_bytes(drawn_one())
    result = cli_runner.invoke(main, ["predict", "nope", str(one)], env=cli_env)
    assert result.exit_code != 0
    assert "digits-knn" in result.output


def test_train_digits_knn_stores_samples_and_metrics(cli_runner, tmp_path):
    store = tmp_path / "store"
    env = {"MODELPORT_INSTANCE_PATH": str(tmp_path), "MODELPORT_MODEL_STORE": str(store)}
    result = cli_runner.invoke(main, ["train", "digits-knn"], env=env)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["validation_accuracy"] > 0.95
    assert (store / "digits-knn" / "samples.npz").is_file()
    saved = json.loads((store / "digits-knn" / "metrics.json").read_text())
    assert saved["version"] == metrics["version"]


def test_module_entry_point_has_help():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "modelport", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("serve", "train", "predict", "models"):
        assert command in result.stdout
