"""Keras models and PyTorch ExportedPrograms turned into ONNX once, when they are added.

Serving stays ONNX Runtime only: the frameworks are needed on the machine that adds the
model (``pip install 'modelport[train]'`` for ``.pt2``, ``'modelport[keras]'`` for
``.keras``/``.h5``), never on the server. Each conversion is done with the framework's
own exporter and then checked: the ONNX graph must give the framework's own outputs on a
few random inputs, or the model is refused with the size of the difference, since a
converter that quietly changes a model is worse than none.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelport.models.onnx_runtime import create_session

CONVERTIBLE = (".pt2", ".keras", ".h5")
# Largest difference allowed between the ONNX graph's outputs and the framework's, per
# output value; relative to the value for values above 1 (float32 keeps ~7 digits).
TOLERANCE = 1e-4
OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "scores"


class ConversionFailed(ValueError):
    """The file could not be converted, or its conversion does not compute the same."""


@dataclass(frozen=True)
class Conversion:
    source: str
    exporter: str
    difference: float
    inputs_checked: int
    dynamic_batch: bool

    def describe(self) -> str:
        return (
            f"converted from {self.source} with {self.exporter}; outputs match within "
            f"{self.difference:.1e} on {self.inputs_checked} random inputs"
        )


def convert(source: Path, target: Path) -> Conversion:
    """Write ``source`` (``.pt2``, ``.keras`` or ``.h5``) to ``target`` as ONNX, checked."""
    if source.suffix == ".pt2":
        return convert_exported_program(source, target)
    if source.suffix in (".keras", ".h5"):
        return convert_keras(source, target)
    raise ConversionFailed(f"{source.name}: no converter for {source.suffix} files")


def convert_exported_program(source: Path, target: Path) -> Conversion:
    """A ``torch.export.save`` file to ONNX with PyTorch's TorchScript-based exporter.

    That exporter takes a module, so the program is turned back into one; it needs no
    package beyond torch and onnx (the newer dynamo exporter also needs onnxscript).
    """
    try:
        import torch
        import torch.onnx  # noqa: F401  (the exporter is a submodule)
    except ImportError as exc:
        raise ConversionFailed(
            f"{source.name}: converting a .pt2 file needs PyTorch ({exc}): "
            "pip install 'modelport[train]'"
        ) from None
    try:
        program = torch.export.load(source)
    except Exception as exc:
        raise ConversionFailed(
            f"{source.name} is not a program saved with torch.export.save ({exc})"
        ) from None
    user_inputs = list(program.graph_signature.user_inputs)
    placeholders = {node.name: node for node in program.graph.nodes if node.op == "placeholder"}
    if len(user_inputs) != 1 or user_inputs[0] not in placeholders:
        raise ConversionFailed(
            f"{source.name} takes {len(user_inputs)} inputs; Modelport feeds one tensor"
        )
    value = placeholders[user_inputs[0]].meta.get("val")
    if value is None or value.dtype != torch.float32:
        raise ConversionFailed(f"{source.name}: its input must be a float32 tensor")
    shape = tuple(d if isinstance(d, int) else None for d in value.shape)
    sample_shape, dynamic = _sample_shape(source, shape)
    module = program.module()
    # An exported program is frozen in the mode it was exported in (eval, for serving) and
    # refuses train(); the exporter only calls it to switch to that mode anyway.
    module.train = lambda mode=True: module  # type: ignore[method-assign]
    example = torch.zeros((2 if dynamic else 1, *sample_shape))
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic else None
    with _exporting(f"{source.name}: torch.onnx.export"):
        torch.onnx.export(
            module,
            (example,),
            str(target),
            dynamo=False,
            external_data=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
        )

    def reference(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return _first_array(module(torch.from_numpy(batch)))

    difference, checked = check_outputs(target, reference, sample_shape, dynamic, "PyTorch")
    return Conversion(
        f"a PyTorch ExportedProgram ({source.name})",
        f"torch.onnx.export (torch {torch.__version__}, opset {OPSET})",
        difference,
        checked,
        dynamic,
    )


@contextmanager
def _exporting(what: str) -> Iterator[None]:
    """A framework's exporter run quietly (its warnings are about its own internals); any
    error it raises becomes the add's refusal, saying what failed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except Exception as exc:
        raise ConversionFailed(f"{what} failed: {type(exc).__name__}: {exc}") from None


def convert_keras(source: Path, target: Path) -> Conversion:
    """A Keras 3 model (``.keras``, or legacy ``.h5``) to ONNX with ``model.export``.

    Keras runs here on its PyTorch backend (no TensorFlow needed); its ONNX export then
    goes through PyTorch's exporter. Loading keeps Keras' safe mode, which refuses to
    deserialise arbitrary Python (lambda layers).
    """
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as exc:
        raise ConversionFailed(
            f"{source.name}: converting a Keras model needs Keras on PyTorch "
            f"({exc}): pip install 'modelport[keras]'"
        ) from None
    try:
        model = keras.saving.load_model(source, compile=False)
    except Exception as exc:
        raise ConversionFailed(
            f"{source.name} is not a Keras model Keras can load ({type(exc).__name__}: {exc})"
        ) from None
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError):
        inputs = []
    if len(inputs) != 1:
        raise ConversionFailed(
            f"{source.name}: the model must have exactly one input with a known shape "
            f"(it has {len(inputs)}); build it on keras.Input(shape=...)"
        )
    shape = tuple(inputs[0].shape)
    sample_shape, dynamic = _sample_shape(source, shape)
    signature = [keras.InputSpec(shape=(None if dynamic else 1, *sample_shape), dtype="float32")]
    with _exporting(f"{source.name}: Keras' ONNX export"):
        model.export(
            str(target),
            format="onnx",
            input_signature=signature,
            verbose=False,
            opset_version=OPSET,
        )

    def reference(batch: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy 2 on how the torch backend converts
            return _first_array(model.predict(batch, verbose=0))

    difference, checked = check_outputs(target, reference, sample_shape, dynamic, "Keras")
    return Conversion(
        f"a Keras model ({source.name})",
        f"Keras {keras.__version__} model.export (backend {keras.backend.backend()})",
        difference,
        checked,
        dynamic,
    )


def _sample_shape(source: Path, shape: tuple[int | None, ...]) -> tuple[tuple[int, ...], bool]:
    """One input's shape without the batch axis, and whether the batch axis is open."""
    if not shape:
        raise ConversionFailed(f"{source.name}: the model's input has no batch axis")
    batch, *rest = shape
    open_axes = [i + 1 for i, d in enumerate(rest) if d is None]
    if open_axes:
        raise ConversionFailed(
            f"{source.name}: input axes {open_axes} of {list(shape)} are left open; only the "
            "batch axis may be: save the model with a fixed input size"
        )
    if batch not in (None, 1):
        raise ConversionFailed(
            f"{source.name} takes batches of exactly {batch}: save it with a dynamic batch "
            "axis (torch.export.Dim) or a batch of 1"
        )
    return tuple(int(d) for d in rest), batch is None


def check_outputs(
    onnx_path: Path,
    reference: Callable[[np.ndarray], np.ndarray],
    sample_shape: tuple[int, ...],
    dynamic_batch: bool,
    framework: str,
) -> tuple[float, int]:
    """The largest difference between the ONNX graph and ``reference`` on random inputs
    (one batch of 3 and one of 1, or 4 single inputs when the batch is fixed at 1).

    Raises :class:`ConversionFailed`, saying by how much, when it is over ``TOLERANCE``.
    """
    rng = np.random.default_rng(0)
    sizes = (3, 1) if dynamic_batch else (1, 1, 1, 1)
    session = create_session(onnx_path, 1)
    input_name = session.get_inputs()[0].name
    worst, checked = 0.0, 0
    for size in sizes:
        batch = rng.standard_normal((size, *sample_shape)).astype(np.float32)
        want = np.asarray(reference(batch), dtype=np.float64)
        try:
            got = np.asarray(session.run(None, {input_name: batch})[0], dtype=np.float64)
        except Exception as exc:
            raise ConversionFailed(
                f"the ONNX graph fails on a batch of {size}: {type(exc).__name__}: {exc}"
            ) from None
        if got.shape != want.shape:
            raise ConversionFailed(
                f"the ONNX graph gives outputs of shape {list(got.shape)}, {framework} "
                f"{list(want.shape)}, for a batch of {size}"
            )
        error = np.abs(got - want) / np.maximum(1.0, np.abs(want))
        worst = max(worst, float(error.max()) if error.size else 0.0)
        if not np.isfinite(error).all():
            worst = float("inf")
        checked += size
    if worst > TOLERANCE:
        raise ConversionFailed(
            f"the ONNX conversion differs from {framework}'s own outputs by up to {worst:.2e} "
            f"(at most {TOLERANCE:.0e} allowed) on {checked} random inputs: not added"
        )
    return worst, checked


def _first_array(output: Any) -> np.ndarray:
    """The first tensor of a model's output (a tensor, or a list, tuple or dict of them)."""
    while isinstance(output, list | tuple | dict):
        if not output:
            raise ConversionFailed("the model returns no outputs")
        output = next(iter(output.values())) if isinstance(output, dict) else output[0]
    if hasattr(output, "detach"):
        output = output.detach().cpu().numpy()
    return np.asarray(output)
