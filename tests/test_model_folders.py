"""Model folders: the settings are checked when read and against the model file at load,
each problem said with the key it is about; one bad folder never keeps the others down."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import drawn_one, make_app

from modelport.inputs.decode import Limits
from modelport.inputs.sketch import ink_from_image, to_mnist
from modelport.models.batching import BatchingModel
from modelport.models.registry import Registry, load_one
from modelport.models.repository import ModelRepository
from modelport.models.settings import BadModelFolder, parse_settings
from modelport.models.store import BUNDLED

DIGITS_TOML = """
kind = "sketch"
file = "model.onnx"
labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
[output]
probabilities = true
"""


def folder(store: Path, name: str, toml: str, model: str | None = "model.onnx") -> Path:
    path = store / name
    path.mkdir(parents=True)
    if model:
        shutil.copy(BUNDLED / "digits" / "model.onnx", path / model)
    (path / "modelport.toml").write_text(toml)
    return path


def failure_of(store: Path, name: str) -> str:
    registry = Registry.load(ModelRepository(store), [name])
    assert name not in registry
    return registry.failures[name]


def test_a_sketch_folder_takes_the_mnist_layout_by_default(tmp_path):
    folder(tmp_path, "my-digits", DIGITS_TOML)
    model = load_one(tmp_path, "my-digits")
    assert (model.name, model.version, model.input_kind) == ("my-digits", "1", "sketch")
    image = model.decode(drawn_one(), Limits())
    sample = model.prepare(image)
    np.testing.assert_array_equal(sample, to_mnist(ink_from_image(image))[None])
    assert model.top(model.predict(sample[None])[0], 1)[0].label == "1"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("colour = 'red'\n" + DIGITS_TOML, "colour: unknown key"),
        (DIGITS_TOML.replace('kind = "sketch"', 'kind = "audio"'), "kind:"),
        (DIGITS_TOML + "[preprocess]\nlayout = 'CHW'\n", "preprocess.layout:"),
        (DIGITS_TOML + "[preprocess]\nmean = [0.1, 0.2]\n", "mean has 2 values"),
        (DIGITS_TOML.replace('file = "model.onnx"', 'file = "../model.onnx"'), "file must be"),
        (DIGITS_TOML.replace('file = "model.onnx"', 'file = "model.pkl"'), "file must end in"),
        ('name = "Not OK"\n' + DIGITS_TOML, "name:"),
        ('labels_file = "labels.txt"\n' + DIGITS_TOML, "labels or labels_file"),
        (DIGITS_TOML + '[[features]]\nname = "x"\ntype = "number"\n', "tabular models"),
        ('implementation = "os:system"\n' + DIGITS_TOML, "implementation: unknown key"),
        ("kind = 'sketch'\nfile = ", "not valid TOML"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_key(tmp_path, toml, key):
    folder(tmp_path, "bad", toml)
    assert key in failure_of(tmp_path, "bad")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]', "labels: 3 labels"),
        ("[preprocess]\nsize = [32, 32]", "preprocess.size: the model takes [1, 28, 28]"),
        ("[preprocess]\nchannels = 'RGB'\nmean = [0.0]\nstd = [1.0]", "preprocess.channels:"),
        ('kind = "photo"\n[preprocess]\nsize = [28, 28]', "preprocess.channels:"),
        ('kind = "tabular"\n[[features]]\nname = "x"\ntype = "number"', "features: 1 features"),
    ],
)
def test_settings_that_contradict_the_model_file_are_refused(tmp_path, change, message):
    toml = DIGITS_TOML
    if change.startswith("labels"):
        toml = toml.replace(change, 'labels = ["a", "b", "c"]')
    elif change.startswith("kind"):
        kind, tables = change.split("\n", 1)
        toml = kind + "\n" + toml.replace('kind = "sketch"\n', "") + tables + "\n"
    else:
        toml += change + "\n"
    folder(tmp_path, "contradicts", toml)
    assert message in failure_of(tmp_path, "contradicts")


def test_a_missing_file_and_a_bad_labels_file_are_named(tmp_path):
    folder(tmp_path, "no-file", DIGITS_TOML, model=None)
    assert "file: model.onnx is not in the folder" in failure_of(tmp_path, "no-file")
    toml = DIGITS_TOML.replace('labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]', "")
    path = folder(tmp_path, "dup-labels", 'labels_file = "labels.txt"\n' + toml)
    (path / "labels.txt").write_text("a\nb\na\n")
    assert "labels_file: labels must be unique" in failure_of(tmp_path, "dup-labels")


def test_labels_default_to_class_numbers_when_the_folder_gives_none(tmp_path):
    folder(
        tmp_path,
        "numbered",
        DIGITS_TOML.replace('labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]', ""),
    )
    assert load_one(tmp_path, "numbered").labels == [str(i) for i in range(10)]


def test_tabular_features_are_checked_when_read():
    raw = {"kind": "tabular", "file": "model.onnx"}
    with pytest.raises(BadModelFolder, match="needs \\[\\[features\\]\\]"):
        parse_settings(raw, "t")
    with pytest.raises(BadModelFolder, match="features\\[0\\].*give its choices"):
        parse_settings(raw | {"features": [{"name": "island", "type": "category"}]}, "t")
    with pytest.raises(BadModelFolder, match="same name"):
        parse_settings(raw | {"features": [{"name": "a", "type": "number"}] * 2}, "t")
    with pytest.raises(BadModelFolder, match="features\\[0\\].kind: unknown key"):
        parse_settings(raw | {"features": [{"name": "a", "type": "number", "kind": 1}]}, "t")


def test_a_store_folder_overrides_the_built_in_and_a_broken_one_is_not_replaced(tmp_path):
    folder(tmp_path, "digits", 'version = "9.9"\n' + DIGITS_TOML)
    assert load_one(tmp_path, "digits").version == "9.9"
    shutil.rmtree(tmp_path / "digits")
    folder(tmp_path, "digits", "oops = 1\n" + DIGITS_TOML)
    assert "oops: unknown key" in failure_of(tmp_path, "digits")


def test_one_bad_folder_keeps_the_others_up_and_readyz_says_which_and_why(tmp_path):
    store = tmp_path / "store"
    folder(store, "good", DIGITS_TOML)
    folder(store, "broken", DIGITS_TOML.replace("labels = [", 'labels = ["x", '))
    app = make_app(tmp_path / "instance", store, ("good", "broken"))
    client = app.test_client()
    assert client.get("/api/v1/models/good").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    models = response.get_json()["models"]
    assert models["good"] == "ready"
    assert "labels: 11 labels, but the model gives 10 scores" in models["broken"]


def test_every_folder_is_served_when_no_model_is_named(tmp_path):
    store = tmp_path / "store"
    folder(store, "mine", DIGITS_TOML)
    names = {folder.name for folder in ModelRepository(store).scan()[0]}
    assert names == {"mine", "digits", "digits-knn", "efficientnet-lite0"}


def test_a_folder_asks_for_batching_and_the_operator_can_override_it(tmp_path):
    store = tmp_path / "store"
    folder(store, "batched", DIGITS_TOML + "[batching]\nmax_batch_size = 4\nmax_wait_ms = 3\n")
    app = make_app(tmp_path / "a", store, ("batched",))
    model = app.extensions["modelport"].registry.models["batched"]
    assert isinstance(model, BatchingModel)
    assert (model.policy.max_batch_size, model.policy.max_wait_ms) == (4, 3)
    app = make_app(tmp_path / "b", store, ("batched",), {"MODELPORT_BATCHING": "batched=16/1"})
    assert app.extensions["modelport"].registry.models["batched"].policy.max_batch_size == 16
    app = make_app(tmp_path / "c", store, ("batched",), {"MODELPORT_BATCHING": "off"})
    assert not isinstance(app.extensions["modelport"].registry.models["batched"], BatchingModel)


def test_the_documented_example_is_a_valid_folder():
    text = (Path(__file__).parents[1] / "docs" / "model-folders.md").read_text()
    raw = tomllib.loads(text.split("```toml", 1)[1].split("```", 1)[0])
    with pytest.raises(BadModelFolder, match="tabular models, not photo"):
        parse_settings(raw, "example")  # it shows every key: features are a table's
    settings = parse_settings(raw | {"kind": "tabular"}, "example")
    assert settings.name == "flowers" and settings.batching.max_batch_size == 8
    assert [feature.type for feature in settings.features] == ["number", "category"]


def test_a_worker_gets_one_request_thread_unless_a_served_model_batches(tmp_path):
    from modelport.cli.serve import default_threads
    from modelport.config import Settings

    store = tmp_path / "store"
    folder(store, "batched", DIGITS_TOML + "[batching]\nmax_batch_size = 4\nmax_wait_ms = 3\n")
    folder(store, "large", DIGITS_TOML + "[batching]\nmax_batch_size = 64\nmax_wait_ms = 3\n")

    def threads(models: str, batching: str = "") -> int:
        environ = {"MODELPORT_MODEL_STORE": str(store), "MODELPORT_MODELS": models}
        return default_threads(Settings.from_env(environ | {"MODELPORT_BATCHING": batching}))

    assert threads("digits,efficientnet-lite0") == 1  # the built-in models do not batch
    assert threads("digits,batched") == 4  # enough for its batch to fill in one worker
    assert threads("large") == 8  # at most
    assert threads("") == 8  # every model in the store, "large" among them
    assert threads("digits,batched", "off") == 1
    assert threads("digits,batched", "batched=2/1") == 2
    assert threads("efficientnet-lite0", "efficientnet-lite0=6/2") == 6
    assert threads("digits", "efficientnet-lite0=6/2") == 1  # a model not served
