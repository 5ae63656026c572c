"""The ``modelport`` command through click's runner, against a real model store."""

from __future__ import annotations

import json

import pytest
from conftest import AuthActions, data_uri, drawn_one, make_app

from modelport.cli import main
from modelport.models.store import BUNDLED


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


def test_eval_digits_prints_accuracy_and_the_confusion_matrix(cli_runner, cli_env):
    result = cli_runner.invoke(main, ["eval", "digits"], env=cli_env)
    assert result.exit_code == 0, result.output
    first, _, header, *rows = result.stdout.splitlines()
    accuracy = float(first.split()[1])
    assert accuracy >= 0.97 and "250 held-out digits" in first
    assert header.split() == [str(d) for d in range(10)]
    matrix = [[int(n) for n in row.split()[1:]] for row in rows]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 250
    assert sum(matrix[d][d] for d in range(10)) == round(accuracy * 250)


def test_train_digits_with_feedback_adds_corrections_and_reports_before_and_after(
    cli_runner, tmp_path, model_store
):
    app = make_app(tmp_path, None, ("digits",))  # its own store: training writes there
    client = app.test_client()
    made, suggested = (
        client.post(
            "/api/predict",
            json={"image": data_uri(drawn_one())},
            headers={"Accept": "application/json"},
        ).get_json()
        for _ in range(2)
    )
    assert app.extensions["modelport"].recorder.flush(timeout=10)
    # A teacher's correction is training data; a visitor's suggestion waits for review.
    feedback = client.post(
        f"/api/v1/predictions/{made['id']}/feedback",
        json={"label": "4"},
        headers=AuthActions(app).headers("teacher"),
    )
    assert feedback.status_code == 200
    suggestion = client.post(f"/api/v1/predictions/{suggested['id']}/feedback", json={"label": "9"})
    assert suggestion.get_json()["suggestion"] is True

    env = {"MODELPORT_INSTANCE_PATH": str(tmp_path)}
    result = cli_runner.invoke(
        main, ["train", "digits", "--epochs", "1", "--with-feedback"], env=env
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["training_sources"]["extra"] == 1
    assert "adding 1 corrected drawings" in result.stderr
    shipped = json.loads((BUNDLED / "digits" / "metrics.json").read_text())
    before = f"held-out accuracy before: {shipped['validation_accuracy']:.4f}, after: "
    assert before in result.stderr
    assert (tmp_path / "models" / "digits" / "model.onnx").is_file()
