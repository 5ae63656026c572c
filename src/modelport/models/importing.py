"""What a bare model file says about itself, written down as a model folder's settings.

``modelport add`` takes a file without a ``modelport.toml``. What the file itself tells
(an ONNX graph's input shape and output width, a scikit-learn pipeline's columns,
categories and classes) becomes settings, and what it cannot tell comes from the command
line (``--labels``, ``--kind``, ``--category``) or from the defaults of the kind. The
result is an ordinary folder that the server checks and serves like any other, and that
a person can read and edit: nothing inferred here is hidden in code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelport.models.onnx_runtime import create_session
from modelport.models.runtimes import SkopsRunner, untrusted_types
from modelport.models.settings import (
    KIND_DEFAULTS,
    NAME_PATTERN,
    BadModelFolder,
    Preprocess,
    check_labels,
    parse_settings,
)

LABELS_FILE = "labels.txt"
# A one-channel photo model gets ImageNet's statistics averaged over the three channels.
GREY_MEAN, GREY_STD = 0.449, 0.226
# Scores that are never negative and sum to 1 within this are taken as probabilities.
PROBABILITY_TOLERANCE = 1e-4
RANDOM_BATCH = 3


@dataclass(frozen=True)
class Choices:
    """What the person adding the model said on the command line."""

    kind: str | None = None
    labels: list[str] | None = None
    # From ``--features FILE``: [[features]] tables as in modelport.toml.
    features: list[dict[str, Any]] | None = None
    # From ``--category NAME=a,b``: columns that take one of a few texts.
    categories: dict[str, list[str]] = field(default_factory=dict)
    # From ``--trust TYPE``: skops types the person vouches for.
    trust: tuple[str, ...] = ()


@dataclass
class Draft:
    """Settings for a folder, the extra files they refer to, and what was inferred."""

    settings: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def name_from_file(path: Path) -> str:
    """A URL-safe model name from a file or folder name: ``"Flowers v2.onnx"`` gives
    ``"flowers-v2"``."""
    stem = path.name if path.is_dir() else path.stem
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")[:64]


def check_name(name: str) -> str:
    if not re.match(NAME_PATTERN, name):
        raise BadModelFolder(
            name or "?",
            "name: a model name is 1 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit: give --name",
        )
    return name


def read_labels_file(path: Path) -> list[str]:
    """One label per line, in the order of the model's outputs; blank lines skipped."""
    labels = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    check_labels(labels)
    return labels


def read_features_file(path: Path) -> list[dict[str, Any]]:
    """A TOML file of ``[[features]]`` tables (full control), or feature names one a line
    (all numbers)."""
    text = path.read_text("utf-8")
    if path.suffix == ".toml":
        try:
            items = tomllib.loads(text).get("features")
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("a TOML features file holds [[features]] tables")
        return items
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ValueError("no feature names in the file")
    return [{"name": name, "type": "number"} for name in names]


def parse_category(text: str) -> tuple[str, list[str]]:
    """``"colour=red,green,blue"`` as ``("colour", ["red", "green", "blue"])``."""
    name, sep, values = text.partition("=")
    choices = [value.strip() for value in values.split(",") if value.strip()]
    if not sep or not name.strip() or not choices:
        raise ValueError(f"{text!r} is not NAME=choice1,choice2,...")
    return name.strip(), choices


def header(source: Path) -> list[str]:
    return [
        f"Written by `modelport add` from {source.name}: what the file says of itself, and",
        "the defaults of its kind where it says nothing. Edit and add the folder again",
        "(modelport add FOLDER --replace) to have the changes checked.",
    ]


# --- ONNX -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphInput:
    """An ONNX graph's first input, with ``None`` where a dimension is left open."""

    name: str
    element_type: str
    shape: tuple[int | None, ...]

    @property
    def batch_fixed(self) -> int | None:
        return self.shape[0] if self.shape else None


def _dims(shape: list[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def onnx_draft(path: Path, choices: Choices) -> Draft:
    """Settings for a bare ONNX file, from its graph's input and a run on random inputs."""
    name = path.parent.name
    try:
        session = create_session(path, 1)
    except Exception as exc:  # onnxruntime's own words say what is wrong with the graph
        detail = str(exc).replace(str(path), path.name)
        raise BadModelFolder(name, f"{path.name} is not a usable ONNX model: {detail}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise BadModelFolder(
            name, f"{path.name} takes {len(inputs)} inputs; Modelport feeds one tensor"
        )
    graph = GraphInput(inputs[0].name, inputs[0].type, _dims(inputs[0].shape))
    if graph.element_type != "tensor(float)":
        raise BadModelFolder(
            name, f"{path.name} takes {graph.element_type}; Modelport feeds tensor(float)"
        )
    if graph.batch_fixed not in (None, 1):
        raise BadModelFolder(
            name,
            f"{path.name} takes batches of exactly {graph.batch_fixed}: export it with a "
            "dynamic batch axis",
        )
    draft = Draft(settings={"name": name, "file": path.name})
    if len(graph.shape) == 2:
        sample_shape = _tabular_onnx(draft, graph, choices)
    elif len(graph.shape) == 4:
        sample_shape = _picture_onnx(draft, graph, choices)
    else:
        raise BadModelFolder(
            name,
            f"{path.name} takes inputs of shape {_show(graph.shape)}: Modelport serves "
            "pictures ([batch, channels, height, width] or [batch, height, width, channels]) "
            "and table rows ([batch, features])",
        )
    scores = _run_random(session, graph, sample_shape, path)
    width = scores.shape[1]
    probabilities = looks_like_probabilities(scores)
    draft.settings["output"] = {"probabilities": probabilities}
    draft.notes.append(
        "output: "
        + (
            f"{width} probabilities (the scores sum to 1)"
            if probabilities
            else f"{width} scores, softmax applied to make them probabilities"
        )
    )
    if graph.batch_fixed is not None:
        draft.warnings.append(
            f"{path.name} takes one input at a time (its batch axis is fixed at 1); "
            "requests are not batched together"
        )
    _onnx_labels(draft, choices, width)
    return draft


def _picture_onnx(draft: Draft, graph: GraphInput, choices: Choices) -> tuple[int, ...]:
    name = draft.settings["name"]
    _, d1, d2, d3 = graph.shape
    if d1 in (1, 3):
        layout, channels, height, width = "NCHW", d1, d2, d3
    elif d3 in (1, 3):
        layout, channels, height, width = "NHWC", d3, d1, d2
    else:
        raise BadModelFolder(
            name,
            f"the model takes inputs of shape {_show(graph.shape)}: not pictures with 1 or 3 "
            "channels first (NCHW) or last (NHWC)",
        )
    kind = choices.kind or ("photo" if channels == 3 else "sketch")
    if kind == "tabular":
        raise BadModelFolder(
            name, f"kind: the model takes pictures ({_show(graph.shape)}), not table rows"
        )
    default_size = KIND_DEFAULTS.get(kind, {}).get("size", Preprocess().size)
    size = (width or default_size[0], height or default_size[1])
    preprocess: dict[str, Any] = {
        "size": list(size),
        "layout": layout,
        "channels": "RGB" if channels == 3 else "L",
    }
    if kind == "photo" and channels == 1:
        preprocess |= {"mean": [GREY_MEAN], "std": [GREY_STD]}
    draft.settings["kind"] = kind
    # The full preprocessing as the kind's defaults complete it, written out to be read.
    resolved = parse_settings(
        {"kind": kind, "file": draft.settings["file"], "preprocess": preprocess}, name
    ).preprocess
    draft.settings["preprocess"] = resolved.model_dump()
    guessed = "" if choices.kind else f" ({channels} channel{'s' if channels > 1 else ''})"
    draft.notes.append(f"kind: {kind}{guessed}")
    draft.notes.append(
        f"input: {_show(graph.shape)}, read as {layout} {preprocess['channels']} "
        f"{size[0]}x{size[1]}"
    )
    if width is None or height is None:
        draft.warnings.append(
            f"the model takes pictures of any size: using {size[0]}x{size[1]} "
            "(set preprocess.size to change it)"
        )
    return resolved.input_shape()


def _tabular_onnx(draft: Draft, graph: GraphInput, choices: Choices) -> tuple[int, ...]:
    name = draft.settings["name"]
    if choices.kind not in (None, "tabular"):
        raise BadModelFolder(
            name, f"kind: the model takes table rows ({_show(graph.shape)}), not pictures"
        )
    width = graph.shape[1]
    if choices.features is not None:
        features = [dict(item) for item in choices.features]
        draft.notes.append("features: from --features")
    elif width is not None:
        features = [{"name": f"x{i}", "type": "number"} for i in range(width)]
        draft.notes.append(
            f"features: x0 to x{width - 1}, named by position (the graph takes {width} values)"
        )
    else:
        raise BadModelFolder(
            name, "features: the graph leaves its number of features open: give --features FILE"
        )
    _apply_categories(name, features, choices.categories)
    draft.settings["kind"] = "tabular"
    draft.settings["features"] = features
    draft.notes.insert(0, "kind: tabular (the graph takes [batch, features])")
    return (width or len(features),)


def _run_random(
    session: Any, graph: GraphInput, sample_shape: tuple[int, ...], path: Path
) -> np.ndarray:
    """The graph's first output on random inputs: how many scores, and what kind."""
    batch = graph.batch_fixed or RANDOM_BATCH
    inputs = np.random.default_rng(0).standard_normal((batch, *sample_shape)).astype(np.float32)
    try:
        scores = np.asarray(session.run(None, {graph.name: inputs})[0])
    except Exception as exc:
        raise BadModelFolder(
            path.parent.name,
            f"{path.name} fails on random inputs of shape {list(inputs.shape)}: {exc}",
        ) from None
    if scores.ndim != 2 or scores.shape[0] != batch:
        raise BadModelFolder(
            path.parent.name,
            f"{path.name}'s first output has shape {list(scores.shape)} for a batch of "
            f"{batch}; Modelport needs scores per class first, [batch, classes]",
        )
    return scores


def looks_like_probabilities(scores: np.ndarray) -> bool:
    """Whether every row is already a distribution (the graph ends in a softmax): a
    softmax applied again would flatten the scores towards uniform."""
    if scores.ndim != 2 or scores.shape[1] < 2 or not np.isfinite(scores).all():
        return False
    sums = scores.sum(axis=1)
    return bool((scores >= 0).all() and np.abs(sums - 1).max() <= PROBABILITY_TOLERANCE)


def _onnx_labels(draft: Draft, choices: Choices, width: int) -> None:
    name = draft.settings["name"]
    if choices.labels is not None:
        if len(choices.labels) != width:
            raise BadModelFolder(
                name,
                f"labels: --labels gives {len(choices.labels)} labels, but the model gives "
                f"{width} scores per input",
            )
        labels = choices.labels
        draft.notes.append(f"labels: from --labels, written to {LABELS_FILE}")
    else:
        labels = [str(i) for i in range(width)]
        draft.notes.append(f"labels: class numbers, written to {LABELS_FILE}")
        draft.warnings.append(
            f"no labels given: the {width} classes are called 0 to {width - 1}; pass "
            f"--labels FILE (one a line) or edit {LABELS_FILE}"
        )
    draft.settings["labels_file"] = LABELS_FILE
    draft.files[LABELS_FILE] = "\n".join(labels) + "\n"


# --- skops ------------------------------------------------------------------------------


def skops_draft(path: Path, choices: Choices) -> Draft:
    """Settings for a scikit-learn estimator saved with skops, loaded without pickle and
    only once every type in the file is trusted by skops or named with ``--trust``."""
    name = path.parent.name
    untrusted = untrusted_types(path, [])
    missing = [t for t in untrusted if t not in choices.trust]
    if missing:
        raise BadModelFolder(
            name,
            "trust: the file holds types skops does not trust: "
            + ", ".join(missing)
            + ". Loading them can run their code; if you made this file, add it with "
            + " ".join(f"--trust {t}" for t in missing),
        )
    draft = Draft(settings={"name": name, "kind": "tabular", "file": path.name})
    unused = [t for t in choices.trust if t not in untrusted]
    if unused:
        draft.warnings.append(f"--trust {', '.join(unused)}: not in the file, not recorded")
    if untrusted:
        draft.settings["trust"] = list(untrusted)
        draft.notes.append(f"trust: {', '.join(untrusted)} (from --trust)")
    if choices.kind not in (None, "tabular"):
        raise BadModelFolder(
            name, f"kind: a scikit-learn model takes table rows (tabular), not {choices.kind}"
        )
    runner = SkopsRunner(path, list(untrusted))
    draft.notes.insert(0, f"kind: tabular ({_describe_estimator(runner.estimator)})")
    if choices.features is not None:
        features = [dict(item) for item in choices.features]
        draft.notes.append("features: from --features")
    else:
        features = _skops_features(name, runner)
        found = category_columns(runner.estimator)
        for feature in features:
            if feature["name"] in found:
                feature.update(type="category", choices=found[feature["name"]])
        if runner.feature_names is not None:
            draft.notes.append("features: the columns the model was fitted on (feature_names_in_)")
        else:
            draft.notes.append("features: x0, x1, ... (the model was fitted without column names)")
        if found:
            draft.notes.append(
                "categories: "
                + ", ".join(f"{column} ({len(values)} choices)" for column, values in found.items())
                + ", read from the pipeline's encoders"
            )
    _apply_categories(name, features, choices.categories)
    draft.settings["features"] = features
    classes = runner.classes or []
    if choices.labels is not None:
        if len(choices.labels) != len(classes):
            raise BadModelFolder(
                name,
                f"labels: --labels gives {len(choices.labels)} labels, but the model has "
                f"{len(classes)} classes ({', '.join(classes)})",
            )
        draft.settings["labels_file"] = LABELS_FILE
        draft.files[LABELS_FILE] = "\n".join(choices.labels) + "\n"
        draft.notes.append(f"labels: from --labels, in the order of classes_ ({LABELS_FILE})")
    else:
        draft.notes.append("labels: the model's classes_")
    return draft


def _describe_estimator(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return "pipeline: " + " > ".join(type(step).__name__ for _, step in steps)
    return type(estimator).__name__


def _skops_features(name: str, runner: SkopsRunner) -> list[dict[str, Any]]:
    if runner.feature_names is not None:
        return [{"name": column, "type": "number"} for column in runner.feature_names]
    if runner.input_shape is not None:
        return [{"name": f"x{i}", "type": "number"} for i in range(runner.input_shape[0])]
    raise BadModelFolder(
        name, "features: the model does not say its input columns: give --features FILE"
    )


def category_columns(estimator: Any) -> dict[str, list[str]]:
    """Columns that a OneHotEncoder or OrdinalEncoder inside ``estimator`` (a pipeline, a
    ColumnTransformer, nested) was fitted on with text categories, and those categories.

    skops cannot say a column's dtype, but an encoder's ``categories_`` are the choices a
    person may pick; columns it saw as numbers stay numbers.
    """
    found: dict[str, list[str]] = {}
    _walk(estimator, None, found)
    return found


def _walk(estimator: Any, columns: list[str] | None, found: dict[str, list[str]]) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if isinstance(estimator, Pipeline):
        # Only the first step sees the pipeline's own columns; an encoder after an imputer
        # in a ColumnTransformer branch still sees them one to one, which it checks below.
        for _, step in estimator.steps:
            _walk(step, columns, found)
    elif isinstance(estimator, ColumnTransformer):
        names = getattr(estimator, "feature_names_in_", None)
        names = list(names) if names is not None else columns
        indices = getattr(estimator, "_transformer_to_input_indices", {})
        for branch, transformer, spec in getattr(estimator, "transformers_", []):
            if branch in indices and names is not None:
                branch_columns = [str(names[i]) for i in indices[branch]]
            elif isinstance(spec, str):
                branch_columns = [spec]
            elif isinstance(spec, list) and all(isinstance(c, str) for c in spec):
                branch_columns = list(spec)
            else:
                branch_columns = None
            _walk(transformer, branch_columns, found)
    elif isinstance(estimator, FeatureUnion):
        for _, transformer in estimator.transformer_list:
            _walk(transformer, columns, found)
    elif isinstance(estimator, OneHotEncoder | OrdinalEncoder):
        own = getattr(estimator, "feature_names_in_", None)
        names = [str(c) for c in own] if own is not None else columns
        categories = getattr(estimator, "categories_", None)
        if names is None or categories is None or len(names) != len(categories):
            return
        for column, values in zip(names, categories, strict=True):
            texts = [v for v in values if isinstance(v, str)]
            others = [v for v in values if not isinstance(v, str) and not _missing(v)]
            if texts and not others:
                found[column] = texts


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _apply_categories(
    name: str, features: list[dict[str, Any]], categories: dict[str, list[str]]
) -> None:
    names = [str(feature.get("name")) for feature in features]
    for column, choices in categories.items():
        if column not in names:
            raise BadModelFolder(
                name,
                f"--category {column}: the model has no feature {column!r}; its features are "
                + ", ".join(names),
            )
        feature = features[names.index(column)]
        feature.pop("min", None)
        feature.pop("max", None)
        feature.update(type="category", choices=list(choices))


def _show(shape: tuple[int | None, ...]) -> list[Any]:
    """A shape as people read it: the open batch axis as "batch", other open axes "?"."""
    return [("batch" if i == 0 else "?") if d is None else d for i, d in enumerate(shape)]
