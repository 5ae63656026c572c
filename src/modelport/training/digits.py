"""Train the ``digits`` CNN, export it to ONNX, and measure it on the held-out split.

``train`` is what ``modelport train digits`` runs and what made the model that ships in
``models/artifacts/digits``; ``evaluate`` is ``modelport eval digits``. PyTorch is
imported inside the functions that need it, so ``evaluate`` works without it.

The recipe: the 2,250 training digits of ``handwriting-train.npz`` plus scikit-learn's
1,797 digits rendered into the MNIST layout (and any ``extra`` digits, e.g. corrected
drawings), augmented afresh every epoch the way canvas drawings vary
(:mod:`modelport.training.augment`), each augmented picture re-normalised by
``sketch.to_mnist`` as serving does. A small CNN (three conv stages, global average
pooling, ~33k parameters at width 16), AdamW with a one-cycle schedule, label smoothing.
"""

from __future__ import annotations

import io
import random
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.models.store import ModelStore, file_sha256, write_atomically
from modelport.training import digits_data

if TYPE_CHECKING:
    import torch

NAME = "digits"
ARTIFACT = "model.onnx"
DEFAULT_EPOCHS = 40
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.05
SKLEARN_PER_EPOCH = 600  # scikit-learn digits drawn afresh each epoch (of 1,797)
THREADS = 2
OPSET = 17
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
VERIFY_TOLERANCE = 1e-4
WIDTH = 16  # channels of the first stage: at 32, 98.8% held out and 0.34 ms a digit


def build_network(width: int = WIDTH) -> torch.nn.Module:
    """Three conv stages (28 -> 14 -> 7), global average pooling, one linear layer.

    Returns logits; :func:`_serving` adds the input normalisation and softmax for export.
    """
    from torch import nn

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    w1, w2, w3 = width, 2 * width, 4 * width
    return nn.Sequential(
        *block(1, w1),
        nn.MaxPool2d(2),
        *block(w1, w2),
        *block(w2, w2),
        nn.MaxPool2d(2),
        *block(w2, w3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(w3, 10),
    )


def train(
    store: ModelStore,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
    *,
    limit: int | None = None,
    width: int = WIDTH,
) -> dict[str, Any]:
    """Train, write ``model.onnx`` and ``metrics.json`` to ``store.folder("digits")``.

    ``extra``: more digits, ``(images, labels)`` with images already in the MNIST layout
    (28x28 float in [0, 1], as ``sketch.to_mnist`` gives them). ``limit`` (for tests)
    trains on only that many digits of each source. The same seed gives the same model.
    """
    import torch
    from torch import nn
    from tqdm import tqdm

    from modelport.training.augment import augment

    started = time.perf_counter()
    _seed_everything(seed)
    images, labels, sources, sampled = _training_data(extra, limit)
    data_hash = digits_data.data_sha256(images, labels)
    always, pool = np.flatnonzero(~sampled), np.flatnonzero(sampled)
    per_epoch = min(len(pool), SKLEARN_PER_EPOCH)

    generator = torch.Generator().manual_seed(seed)
    network = build_network(width)
    optimiser = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = -(-(len(always) + per_epoch) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=LEARNING_RATE, epochs=epochs, steps_per_epoch=steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)

    bar = tqdm(range(epochs), desc="train digits", unit="epoch", disable=not progress)
    for _epoch in bar:
        network.train()
        drawn = pool[torch.randperm(len(pool), generator=generator)[:per_epoch].numpy()]
        rows_this_epoch = np.concatenate([always, drawn])
        batch_images = torch.from_numpy(augment(images[rows_this_epoch], generator))[:, None]
        batch_images = (batch_images - MNIST_MEAN) / MNIST_STD
        targets = torch.from_numpy(labels[rows_this_epoch])
        order = torch.randperm(len(targets), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            logits = network(batch_images[rows])
            loss = loss_fn(logits, targets[rows])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(rows)
            correct += int((logits.argmax(1) == targets[rows]).sum())
        bar.set_postfix(loss=f"{total_loss / len(order):.3f}", acc=f"{correct / len(order):.3f}")
    bar.close()
    train_seconds = time.perf_counter() - started

    folder = store.folder(NAME)
    path = folder / ARTIFACT
    onnx_bytes = export_onnx(network)
    write_atomically(path, onnx_bytes)
    measured = evaluate(path)
    metrics = {
        "model": NAME,
        "version": f"1.0+{file_sha256(path)[:8]}",
        "validation_accuracy": measured["accuracy"],
        "validation_samples": measured["samples"],
        "validation": "held-out 10% of handwriting-train.npz (stratified, fixed seed "
        f"{digits_data.HOLD_OUT_SEED}), normalised by sketch.to_mnist, through ONNX Runtime",
        "confusion_matrix": measured["confusion_matrix"],
        "training_samples": int(len(labels)),
        "training_sources": sources,
        "training_data_sha256": data_hash,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
        "seed": seed,
        "width": width,
        "parameters": int(sum(p.numel() for p in network.parameters())),
        "torch": torch.__version__,
        "onnx_opset": OPSET,
    }
    store.write_metrics(NAME, metrics)
    return metrics


def evaluate(model: Path | str | ModelStore) -> dict[str, Any]:
    """Accuracy and confusion matrix (rows: true digit, columns: predicted) on the held-out
    split, each digit normalised by ``sketch.to_mnist`` and run through ONNX Runtime."""
    from modelport.models.runtimes import OnnxRunner

    if isinstance(model, ModelStore):
        path = model.find(NAME, ARTIFACT)
        if path is None:
            raise FileNotFoundError(f"No {NAME} model in {model.root} or the package.")
    else:
        path = Path(model)
    held_out = digits_data.held_out_split()
    probabilities = OnnxRunner(path, apply_softmax=False)(
        digits_data.normalise(held_out.images)[:, None]
    )
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (held_out.labels, predicted), 1)
    return {
        "model_path": str(path),
        "accuracy": round(float(np.mean(predicted == held_out.labels)), 4),
        "samples": len(held_out),
        "confusion_matrix": confusion.tolist(),
    }


def export_onnx(network: torch.nn.Module) -> bytes:
    """The network with input normalisation and softmax, as ONNX bytes (dynamic batch),
    checked against PyTorch with ONNX Runtime."""
    import onnxruntime as ort
    import torch

    serving = _serving(network).eval()
    example = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            serving,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["ink"],
            output_names=["probabilities"],
            dynamic_axes={"ink": {0: "batch"}, "probabilities": {0: "batch"}},
        )
    data = buffer.getvalue()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for batch in (example, example[:1], torch.rand(9, 1, 28, 28)):
        with torch.no_grad():
            expected = serving(batch).numpy()
        got = session.run(None, {"ink": batch.numpy()})[0]
        if got.shape != expected.shape or np.abs(got - expected).max() > VERIFY_TOLERANCE:
            raise RuntimeError("the exported ONNX model disagrees with PyTorch")
    return data


def _serving(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` wrapped to take ink in [0, 1] and give probabilities."""
    import torch

    class Serving(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, ink: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.network((ink - MNIST_MEAN) / MNIST_STD), dim=1)

    return Serving()


def _training_data(
    extra: tuple[np.ndarray, np.ndarray] | None, limit: int | None
) -> tuple[np.ndarray, np.ndarray, dict[str, int], np.ndarray]:
    """All training digits, their labels, a count per source, and which are sampled per epoch
    (the scikit-learn digits: low resolution and many, so only some of them each epoch)."""
    split = digits_data.training_split()
    mnist = split.images.astype(np.float32) / 255.0
    mnist_labels = split.labels
    sk_images, sk_labels = digits_data.sklearn_digits()
    if limit is not None:
        mnist, mnist_labels = mnist[:limit], mnist_labels[:limit]
        sk_images, sk_labels = sk_images[:limit], sk_labels[:limit]
    parts = [(mnist, mnist_labels), (sk_images, sk_labels)]
    sources = {
        "handwriting-train.npz (not held out)": len(mnist_labels),
        "sklearn digits": len(sk_labels),
    }
    if extra is not None:
        extra_images = np.asarray(extra[0], dtype=np.float32).reshape(-1, 28, 28)
        extra_labels = np.asarray(extra[1], dtype=np.int64).reshape(-1)
        if len(extra_images) != len(extra_labels):
            raise ValueError("extra images and labels differ in number")
        if len(extra_labels) and (extra_labels.min() < 0 or extra_labels.max() > 9):
            raise ValueError("extra labels must be digits 0-9")
        parts.append((np.clip(extra_images, 0.0, 1.0), extra_labels))
        sources["extra"] = len(extra_labels)
    images = np.concatenate([p[0] for p in parts]).astype(np.float32)
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    sampled = np.zeros(len(labels), dtype=bool)
    sampled[len(mnist_labels) : len(mnist_labels) + len(sk_labels)] = True
    return images, labels, sources, sampled


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
