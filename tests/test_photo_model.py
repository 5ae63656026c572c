"""EfficientNet-Lite0: ONNX against PyTorch, real photos, the export cache, preprocessing."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from photo_samples import CAT_CLASSES, COFFEE_CLASSES, big_jpeg, chelsea, chelsea_jpeg, coffee_jpeg
from PIL import Image

from modelport.inputs.decode import Limits, open_photo
from modelport.inputs.photo import crop_box, to_efficientnet, to_rgb
from modelport.models import efficientnet
from modelport.models.onnx_runtime import create_session
from modelport.models.registry import load_one
from modelport.models.store import ModelStore, file_sha256
from modelport.service import predict_bytes
from modelport.training import efficientnet_export as export_module

PHOTO_DRAFT_SIZE = (320, 320)  # what the photo model asks JPEG decoding for


@pytest.fixture(scope="module")
def store(model_store) -> ModelStore:
    return ModelStore(model_store)


@pytest.fixture(scope="module")
def model(store) -> efficientnet.EfficientNetLite0:
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


def test_onnx_runtime_matches_pytorch(model, store):
    torch = pytest.importorskip("torch")
    reference = export_module.reference_model()
    photos = [to_efficientnet(open_photo(data)) for data in (chelsea_jpeg(), coffee_jpeg())]
    noise = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    batch = np.concatenate([np.stack(photos), noise])  # three at once: the batch axis is dynamic
    session = create_session(store.root / "efficientnet-lite0" / "model.onnx", threads=2)
    onnx_logits = session.run(None, {"image": batch})[0]
    torch_logits = reference(torch.from_numpy(batch)).numpy()
    assert onnx_logits.shape == (3, 1000)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-3, rtol=0)
    for ours, theirs in zip(onnx_logits, torch_logits, strict=True):
        assert list(np.argsort(ours)[::-1][:5]) == list(np.argsort(theirs)[::-1][:5])


def test_chelsea_is_a_cat_and_coffee_is_espresso_or_cup(model):
    cat = predict_bytes(model, chelsea_jpeg(), Limits(), top_k=5)
    assert cat.best.label in CAT_CLASSES
    assert abs(float(cat.probabilities.sum()) - 1.0) < 1e-4
    drink = predict_bytes(model, coffee_jpeg(), Limits(), top_k=2)
    assert COFFEE_CLASSES & {p.label for p in drink.predictions}


def test_the_export_is_cached_by_the_weights_hash(store, model):
    onnx = store.root / "efficientnet-lite0" / "model.onnx"
    metrics = store.metrics(onnx)
    assert metrics["weights_sha256"] == file_sha256(export_module.weights_path())
    assert model.version == metrics["version"]
    before = onnx.stat().st_mtime_ns
    assert export_module.ensure_exported(store) == onnx
    assert onnx.stat().st_mtime_ns == before  # same weights: no second export


@pytest.mark.slow
def test_other_weights_mean_a_new_export(store, tmp_path):
    """An ONNX file made from other weights (its hash in metrics.json differs) is replaced."""
    copy = ModelStore(tmp_path / "store")
    folder = copy.folder("efficientnet-lite0")
    shutil.copy(store.root / "efficientnet-lite0" / "model.onnx", folder / "model.onnx")
    (folder / "model.onnx").write_bytes(b"stale")
    (folder / "metrics.json").write_text(json.dumps({"weights_sha256": "0" * 64}))
    model = load_one(copy.root, "efficientnet-lite0")
    assert copy.metrics(folder / "model.onnx")["weights_sha256"] != "0" * 64
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


def test_serving_without_torch_says_what_to_install(tmp_path, monkeypatch):
    """The app exports at first start in a child process; its refusal reaches the loader."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    store = ModelStore(tmp_path / "store")
    with pytest.raises(export_module.ExportUnavailable, match=r"modelport\[train\]"):
        load_one(store.root, "efficientnet-lite0")
    assert not list(store.root.glob("*/model.onnx"))


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
