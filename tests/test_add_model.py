"""``modelport add`` and ``modelport remove`` through click's runner, on models built at
test time: each added model is loaded as the server loads it and must give the scores its
own framework gives on the same input, within 1e-4."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import model_files as mf
import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import drawn_one

from modelport.cli import main
from modelport.inputs.decode import Limits
from modelport.models import toml_text
from modelport.models.converters import ConversionFailed, check_outputs
from modelport.models.registry import load_one
from modelport.service import predict_bytes, predict_rows

TOLERANCE = 1e-4
LIMITS = Limits()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-files")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("added-store")


@pytest.fixture(scope="module")
def env(tmp_path_factory, store) -> dict[str, str]:
    return {
        "MODELPORT_INSTANCE_PATH": str(tmp_path_factory.mktemp("add-instance")),
        "MODELPORT_MODEL_STORE": str(store),
    }


@pytest.fixture(scope="module")
def photo_net():
    return mf.tiny_cnn(channels=3)


@pytest.fixture(scope="module")
def photo_onnx(photo_net, files) -> Path:
    return mf.save_onnx(photo_net, files / "flowers.onnx", (3, 32, 32))


@pytest.fixture(scope="module")
def iris_skops(files):
    pipeline = mf.iris_pipeline()
    return pipeline, mf.save_skops(pipeline, files / "iris.skops")


def invoke(env: dict[str, str], *args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


def added(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result, *words: str) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert word in result.output
    return result.output


def text_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def settings_of(store: Path, name: str) -> dict:
    return tomllib.loads((store / name / "modelport.toml").read_text("utf-8"))


def leftovers(store: Path) -> list[str]:
    return [item.name for item in store.iterdir() if item.name.startswith(".")]


# --- pictures ---------------------------------------------------------------------------


def test_a_photo_onnx_gets_its_input_from_the_graph_and_scores_as_torch_does(
    env, store, photo_net, photo_onnx, tmp_path
):
    labels = text_file(tmp_path / "labels.txt", ["daisy", "rose", "tulip"])
    out = added(invoke(env, "add", photo_onnx, "--labels", labels))
    assert f"Added flowers (photo) from {photo_onnx}" in out
    assert "kind: photo (3 channels)" in out
    assert "NCHW [3, 32, 32], RGB, size 32x32" in out
    assert "labels: 3 (daisy, rose, tulip)" in out
    assert "softmax applied" in out
    assert "page: /models/flowers" in out
    assert "API:  POST /api/v1/models/flowers/predict" in out
    written = settings_of(store, "flowers")
    # ImageNet's preprocessing, the defaults for photos, written out to be read and edited.
    assert written["preprocess"]["mean"] == [0.485, 0.456, 0.406]
    assert written["preprocess"]["size"] == [32, 32]
    assert written["output"] == {"probabilities": False}

    model = load_one(store, "flowers")
    assert model.labels == ["daisy", "rose", "tulip"]
    data = mf.noise_png()
    result = predict_bytes(model, data, LIMITS)
    sample = model.prepare(model.decode(data, LIMITS))
    expected = mf.softmax(mf.torch_scores(photo_net, sample[None]))[0]
    np.testing.assert_allclose(result.probabilities, expected, atol=TOLERANCE)


@pytest.mark.parametrize("nhwc", [False, True], ids=["NCHW", "NHWC"])
def test_a_one_channel_model_is_a_sketch_and_its_softmax_is_not_applied_twice(
    env, store, files, nhwc
):
    net = mf.tiny_cnn(channels=1, classes=4, softmax=True, nhwc=nhwc)
    shape = (28, 28, 1) if nhwc else (1, 28, 28)
    name = f"scribbles-{'nhwc' if nhwc else 'nchw'}"
    path = mf.save_onnx(net, files / f"{name}.onnx", shape)
    result = invoke(env, "add", path)
    out = added(result)
    layout = "NHWC" if nhwc else "NCHW"
    assert f"Added {name} (sketch)" in out
    assert f"{layout} {list(shape)}, L, size 28x28" in out
    assert "4 probabilities (the scores sum to 1)" in out
    assert "labels: 4 (0, 1, 2, 3): class numbers" in out
    assert "warning: no labels given" in result.stderr
    assert settings_of(store, name)["output"] == {"probabilities": True}

    model = load_one(store, name)
    scores = predict_bytes(model, drawn_one(), LIMITS).probabilities
    sample = model.prepare(model.decode(drawn_one(), LIMITS))
    np.testing.assert_allclose(scores, mf.torch_scores(net, sample[None])[0], atol=TOLERANCE)


def test_a_pt2_program_is_converted_once_checked_and_served_from_onnx(env, store, files, photo_net):
    path = mf.save_pt2(photo_net, files / "petals.pt2", (3, 32, 32))
    out = added(invoke(env, "add", path))
    assert "converted from a PyTorch ExportedProgram (petals.pt2)" in out
    assert "outputs match within" in out
    assert sorted(item.name for item in (store / "petals").iterdir()) == [
        "labels.txt",
        "modelport.toml",
        "petals.onnx",
    ]
    model = load_one(store, "petals")
    data = mf.noise_png(seed=1)
    sample = model.prepare(model.decode(data, LIMITS))
    expected = mf.softmax(mf.torch_scores(photo_net, sample[None]))[0]
    scores = predict_bytes(model, data, LIMITS).probabilities
    np.testing.assert_allclose(scores, expected, atol=TOLERANCE)


def test_a_pt2_program_with_a_fixed_batch_is_served_one_input_at_a_time(
    env, store, files, photo_net
):
    path = mf.save_pt2(photo_net, files / "single.pt2", (3, 32, 32), dynamic=False)
    result = invoke(env, "add", path)
    added(result)
    assert "takes one input at a time" in result.stderr
    assert load_one(store, "single").predict(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 3)


def test_a_conversion_that_changes_the_outputs_is_refused_saying_by_how_much(photo_net, photo_onnx):
    def reference(batch: np.ndarray) -> np.ndarray:
        return mf.torch_scores(photo_net, batch) + 0.01

    with pytest.raises(ConversionFailed) as refusal:
        check_outputs(photo_onnx, reference, (3, 32, 32), True, "PyTorch")
    message = str(refusal.value)
    assert "differs from PyTorch's own outputs by up to" in message
    assert "(at most 1e-04 allowed)" in message
    difference, checked = check_outputs(
        photo_onnx, lambda b: mf.torch_scores(photo_net, b), (3, 32, 32), True, "PyTorch"
    )
    assert difference < TOLERANCE and checked == 4


# Keras' torch backend hands numpy a tensor the old way (numpy 2 warns).
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_model_is_converted_with_its_own_exporter(env, store, files, suffix):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    name = f"keras-{suffix[1:]}"
    keras_model = mf.keras_cnn(files / f"{name}{suffix}")
    out = added(invoke(env, "add", files / f"{name}{suffix}"))
    assert "converted from a Keras model" in out
    assert "NHWC [24, 24, 3], RGB, size 24x24" in out
    model = load_one(store, name)
    data = mf.noise_png(seed=2)
    sample = model.prepare(model.decode(data, LIMITS))
    expected = mf.softmax(np.asarray(keras_model.predict(sample[None], verbose=0)))[0]
    scores = predict_bytes(model, data, LIMITS).probabilities
    np.testing.assert_allclose(scores, expected, atol=TOLERANCE)


# --- tables -----------------------------------------------------------------------------


def test_a_skops_pipeline_gets_its_columns_and_classes_from_the_file(env, store, iris_skops):
    pipeline, path = iris_skops
    out = added(invoke(env, "add", path))
    assert "Added iris (tabular)" in out
    assert "pipeline: StandardScaler > LogisticRegression" in out
    assert "labels: 3 (setosa, versicolor, virginica): the model's classes_" in out
    assert "    sepal length (cm): number" in out
    assert "trust" not in settings_of(store, "iris")

    model = load_one(store, "iris")
    features, _ = mf.iris_frame()
    rows = features.iloc[[0, 60, 120]]
    results = predict_rows(model, mf.rows_of(rows, 3))
    expected = pipeline.predict_proba(rows)
    np.testing.assert_allclose([r.probabilities for r in results], expected, atol=TOLERANCE)
    assert [r.best.label for r in results] == list(pipeline.predict(rows))


def test_category_columns_and_their_choices_are_read_from_the_encoder(env, store, files):
    pipeline = mf.colour_pipeline()
    path = mf.save_skops(pipeline, files / "coloured-iris.skops")
    out = added(invoke(env, "add", path))
    assert "categories: colour (3 choices), read from the pipeline's encoders" in out
    assert "    colour: one of blue, green, red" in out
    features = settings_of(store, "coloured-iris")["features"]
    assert features[-1] == {"name": "colour", "type": "category", "choices": list(mf.COLOURS[::-1])}
    assert [f["type"] for f in features[:-1]] == ["number"] * 4

    model = load_one(store, "coloured-iris")
    table, _ = mf.iris_with_colour()
    rows = table.iloc[[5, 70, 140]]
    results = predict_rows(model, mf.rows_of(rows, 3))
    expected = pipeline.predict_proba(rows)
    np.testing.assert_allclose([r.probabilities for r in results], expected, atol=TOLERANCE)


def test_a_tabular_onnx_gets_numbered_features_and_categories_from_the_command_line(
    env, store, files, tmp_path
):
    net = mf.tiny_mlp(features=4)
    path = mf.save_onnx(net, files / "table.onnx", (4,))
    labels = text_file(tmp_path / "labels.txt", ["low", "mid", "high"])
    out = added(invoke(env, "add", path, "--labels", labels, "--category", "x3=a, b,c"))
    assert "kind: tabular (the graph takes [batch, features])" in out
    assert "features: 4, x0 to x3" in out
    assert "    x3: one of a, b, c" in out

    model = load_one(store, "table")
    result = predict_rows(model, {"x0": 0.5, "x1": -1.0, "x2": 2.0, "x3": "b"})[0]
    # A category reaches an ONNX graph as its index among the choices.
    expected = mf.softmax(mf.torch_scores(net, np.array([[0.5, -1.0, 2.0, 1.0]])))[0]
    np.testing.assert_allclose(result.probabilities, expected, atol=TOLERANCE)


def test_an_untrusted_skops_type_is_refused_until_trusted_by_name(env, store, files):
    pipeline = mf.doubling_pipeline()
    path = mf.save_skops(pipeline, files / "doubling.skops")
    refused(
        invoke(env, "add", path),
        "doubling: trust: the file holds types skops does not trust: model_files.doubled",
        "--trust model_files.doubled",
    )
    assert not (store / "doubling").exists()
    assert leftovers(store) == []

    out = added(invoke(env, "add", path, "--trust", "model_files.doubled"))
    assert "trust: model_files.doubled (from --trust)" in out
    assert settings_of(store, "doubling")["trust"] == ["model_files.doubled"]
    features, _ = mf.iris_frame()
    result = predict_rows(load_one(store, "doubling"), mf.rows_of(features, 1))[0]
    expected = pipeline.predict_proba(features.head(1))[0]
    np.testing.assert_allclose(result.probabilities, expected, atol=TOLERANCE)


# --- folders and what is wrong with them -----------------------------------------------


def model_folder(root: Path, name: str, toml: str, model: Path) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / model.name).write_bytes(model.read_bytes())
    (folder / "modelport.toml").write_text(toml, "utf-8")
    return folder


def test_a_folder_with_an_untrusted_type_gets_trust_written_in(env, store, files, tmp_path):
    path = files / "doubling.skops"
    if not path.exists():
        mf.save_skops(mf.doubling_pipeline(), path)
    toml = 'kind = "tabular"\nfile = "doubling.skops"\n' + "".join(
        f'[[features]]\nname = "{n}"\ntype = "number"\n' for n in mf.iris_frame()[0].columns
    )
    folder = model_folder(tmp_path, "doubling-folder", toml, path)
    refused(invoke(env, "add", folder), "not trusted: model_files.doubled", "--trust")
    added(invoke(env, "add", folder, "--trust", "model_files.doubled"))
    assert settings_of(store, "doubling-folder")["trust"] == ["model_files.doubled"]


def test_a_model_folder_is_copied_and_renamed_with_its_comments_kept(
    env, store, photo_onnx, tmp_path
):
    toml = (
        '# hand-written\nname = "roses"\nkind = "photo"\nfile = "flowers.onnx"\n'
        'labels = ["a", "b", "c"]\n\n[preprocess]\nsize = [32, 32]\nresize = "stretch"\n'
    )
    folder = model_folder(tmp_path, "roses", toml, photo_onnx)
    out = added(invoke(env, "add", folder, "--name", "wild-roses"))
    assert f"Added wild-roses (photo) from {folder}" in out
    assert "settings: the folder's own modelport.toml (name set to wild-roses)" in out
    assert "resize stretch" in out
    text = (store / "wild-roses" / "modelport.toml").read_text("utf-8")
    assert text.startswith('# hand-written\nname = "wild-roses"\n')
    assert (folder / "modelport.toml").read_text("utf-8") == toml
    assert load_one(store, "wild-roses").labels == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        (
            'kind = "photo"\nfile = "flowers.onnx"\ncolour = "red"\n',
            ["colour: unknown key"],
        ),
        (
            'kind = "photo"\nfile = "flowers.onnx"\nlabels = ["a", "b", "c", "d"]\n'
            "[preprocess]\nsize = [32, 32]\n",
            ["labels: 4 labels, but the model gives 3 scores per input"],
        ),
        (
            'kind = "photo"\nfile = "flowers.onnx"\n[preprocess]\nsize = [64, 48]\n',
            ["preprocess.size: the model takes [3, 32, 32] per input (NCHW)", "[3, 48, 64]"],
        ),
        (
            'kind = "sketch"\nfile = "flowers.onnx"\n[preprocess]\nsize = [32, 32]\n',
            ["preprocess.channels"],
        ),
    ],
    ids=["unknown-key", "label-count", "size", "channels"],
)
def test_a_folder_that_contradicts_its_model_is_refused_naming_the_key(
    env, store, photo_onnx, tmp_path, toml, words
):
    folder = model_folder(tmp_path, "broken", toml, photo_onnx)
    refused(invoke(env, "add", folder), "broken: ", *words)
    assert not (store / "broken").exists()
    assert leftovers(store) == []


def test_tabular_features_that_are_not_the_fitted_columns_are_refused(
    env, store, iris_skops, tmp_path
):
    _, path = iris_skops
    toml = 'kind = "tabular"\nfile = "iris.skops"\n' + "".join(
        f'[[features]]\nname = "{n}"\ntype = "number"\n' for n in "abcd"
    )
    folder = model_folder(tmp_path, "petals-wrong", toml, path)
    refused(
        invoke(env, "add", folder),
        "features: the model was fitted on sepal length (cm)",
        "the settings give a, b, c, d",
    )


def test_bare_file_mistakes_are_refused_with_what_to_change(env, photo_onnx, files, tmp_path):
    two = text_file(tmp_path / "two.txt", ["cat", "dog"])
    refused(
        invoke(env, "add", photo_onnx, "--name", "pets", "--labels", two),
        "labels: --labels gives 2 labels, but the model gives 3 scores per input",
    )
    refused(
        invoke(env, "add", photo_onnx, "--name", "pets", "--kind", "tabular"),
        "kind: the model takes pictures",
    )
    notes = text_file(tmp_path / "notes.txt", ["not a model"])
    refused(invoke(env, "add", notes), "notes.txt: Modelport adds .onnx, .skops, .pt2")
    refused(invoke(env, "add", photo_onnx, "--name", "Not Valid"), "name: a model name is")
    refused(
        invoke(env, "add", photo_onnx, "--name", "pets", "--category", "colour"),
        "'colour' is not NAME=choice1,choice2",
    )
    (files / "broken.onnx").write_bytes(b"not an onnx graph")
    refused(
        invoke(env, "add", files / "broken.onnx"),
        "broken: broken.onnx is not a usable ONNX model:",
        "Protobuf parsing failed",
    )


# --- the store: replacing, listing, removing --------------------------------------------


def test_a_taken_name_needs_replace_and_remove_takes_only_added_models(iris_skops, tmp_path):
    _, path = iris_skops
    store = tmp_path / "store"
    env = {"MODELPORT_INSTANCE_PATH": str(tmp_path), "MODELPORT_MODEL_STORE": str(store)}
    added(invoke(env, "add", path, "--name", "petals"))
    refused(
        invoke(env, "add", path, "--name", "petals"),
        "petals: a model is already added under this name",
        "--replace",
    )
    assert "Replaced petals" in added(invoke(env, "add", path, "--name", "petals", "--replace"))
    refused(invoke(env, "add", path, "--name", "digits"), "digits: a built-in model has this name")
    assert leftovers(store) == []

    listing = added(invoke(env | {"MODELPORT_MODELS": "digits,petals"}, "models"))
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert listing.splitlines()[0].split()[:4] == ["NAME", "VERSION", "INPUT", "FROM"]
    assert rows["petals"][2:4] == ["tabular", "added"]
    assert rows["digits"][2:4] == ["sketch", "built-in"]
    as_json = added(invoke(env | {"MODELPORT_MODELS": "digits,petals"}, "models", "--json"))
    sources = {row["name"]: row["source"] for row in json.loads(as_json)["models"]}
    assert sources == {"digits": "built-in", "petals": "added"}

    assert added(invoke(env, "remove", "petals")).startswith(f"Removed petals ({store}")
    assert not (store / "petals").exists() and leftovers(store) == []
    refused(invoke(env, "remove", "petals"), "no added model named petals")
    refused(invoke(env, "remove", "digits"), "digits is built in", "MODELPORT_MODELS")


def test_an_added_model_may_stand_in_for_a_built_in_until_removed(iris_skops, tmp_path):
    _, path = iris_skops
    store = tmp_path / "store"
    env = {"MODELPORT_INSTANCE_PATH": str(tmp_path), "MODELPORT_MODEL_STORE": str(store)}
    out = added(invoke(env, "add", path, "--name", "digits-knn", "--replace"))
    assert out.startswith("Added (in place of the built-in) digits-knn (tabular)")
    assert load_one(store, "digits-knn").input_kind == "tabular"
    removed = added(invoke(env, "remove", "digits-knn"))
    assert "The built-in digits-knn is served again in its place." in removed


# --- the TOML writer --------------------------------------------------------------------


def test_written_toml_reads_back_as_written():
    settings = {
        "name": "odd",
        "description": 'quotes " and \\ back\nslash, tab\t, bell \x07, é, 😀',
        "labels": ["a", "b"],
        "default": True,
        "preprocess": {"size": [32, 24], "mean": [0.5], "scale": 1e-05},
        "features": [{"name": "a b", "type": "number", "min": None}],
    }
    text = toml_text.dumps(settings, ["a comment"])
    assert text.startswith("# a comment\n")
    expected = settings | {"features": [{"name": "a b", "type": "number"}]}
    assert tomllib.loads(text) == expected


def test_setting_a_top_level_key_keeps_the_rest_of_the_file():
    text = '# mine\nname = "a"  # old\nkind = "photo"\n\n[preprocess]\nname = "not top level"\n'
    edited = toml_text.set_top_level(text, "name", "b")
    assert edited == (
        '# mine\nname = "b"  # old\nkind = "photo"\n\n[preprocess]\nname = "not top level"\n'
    )
    added_key = toml_text.set_top_level(edited, "trust", ["x.Y"])
    assert tomllib.loads(added_key)["trust"] == ["x.Y"]
    assert tomllib.loads(added_key)["preprocess"] == {"name": "not top level"}
    spanning = toml_text.set_top_level('trust = [\n  "a",\n]\n', "trust", ["b"])
    assert tomllib.loads(spanning) == {"trust": ["b"]}
    with pytest.raises(ValueError, match="not valid TOML"):
        toml_text.set_top_level("trust = [", "trust", ["b"])
