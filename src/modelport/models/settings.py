"""A model folder's ``modelport.toml``, validated once into one typed, frozen object.

Unknown keys are refused (a typo in a user's file fails loudly, naming the key), and
every message names the key it is about, as ``preprocess.size`` or ``features[1].type``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SETTINGS_FILE = "modelport.toml"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

Kind = Literal["photo", "sketch", "tabular"]
KINDS: tuple[str, ...] = ("photo", "sketch", "tabular")
MODEL_SUFFIXES = (".onnx", ".skops")


class BadModelFolder(ValueError):
    """A model folder that cannot be served, and why, in words that name the key."""

    def __init__(self, folder: str, detail: str) -> None:
        super().__init__(f"{folder}: {detail}")
        self.folder = folder
        self.detail = detail


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveFloat = Annotated[float, Field(gt=0)]


class Preprocess(_Strict):
    """How a picture becomes the model's input: ``x = (pixel / scale - mean) / std``.

    The defaults depend on the kind (see ``KIND_DEFAULTS``): ImageNet's for photos, the
    MNIST layout (white ink on black, 0 to 1) for sketches.
    """

    size: tuple[Annotated[int, Field(ge=1, le=4096)], Annotated[int, Field(ge=1, le=4096)]] = (
        224,
        224,
    )
    resize: Literal["crop", "stretch", "pad"] = "crop"
    crop_fraction: float = Field(1.0, gt=0, le=1)
    channels: Literal["RGB", "BGR", "L"] = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    scale: PositiveFloat = 255.0
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[PositiveFloat, ...] = (0.229, 0.224, 0.225)
    invert: bool = False

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def channel_count(self) -> int:
        return 1 if self.channels == "L" else 3

    @model_validator(mode="after")
    def _per_channel(self) -> Preprocess:
        for key in ("mean", "std"):
            values = getattr(self, key)
            if len(values) not in {1, self.channel_count}:
                raise ValueError(
                    f"{key} has {len(values)} values; channels = {self.channels!r} "
                    f"takes 1 or {self.channel_count}"
                )
        return self

    def input_shape(self) -> tuple[int, int, int]:
        """One prepared input, without the batch axis."""
        c, h, w = self.channel_count, self.height, self.width
        return (c, h, w) if self.layout == "NCHW" else (h, w, c)


KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "photo": {},
    "sketch": {"size": (28, 28), "channels": "L", "mean": (0.0,), "std": (1.0,)},
}


class Output(_Strict):
    probabilities: bool = False


class Feature(_Strict):
    name: str = Field(min_length=1, max_length=128)
    type: Literal["number", "category"]
    choices: list[str] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Feature:
        if self.type == "category":
            if not self.choices:
                raise ValueError(f"feature {self.name!r} is a category: give its choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"feature {self.name!r} lists a choice twice")
            if self.min is not None or self.max is not None:
                raise ValueError(
                    f"feature {self.name!r} is a category: min and max are for numbers"
                )
        elif self.choices is not None:
            raise ValueError(f"feature {self.name!r} is a number: choices are for categories")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min is above max")
        return self


class Batching(_Strict):
    max_batch_size: int = Field(8, ge=1, le=1024)
    max_wait_ms: float = Field(2.0, ge=0, le=1000)


class ModelSettings(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field("1", min_length=1, max_length=64)
    description: str = ""
    kind: Kind
    file: str = Field(min_length=1)
    labels: list[str] | None = None
    labels_file: str | None = None
    default: bool = False
    preprocess: Preprocess = Preprocess()
    output: Output = Output()
    features: list[Feature] = []
    batching: Batching | None = None
    # scikit-learn types beyond skops' own trusted list, accepted with ``add --trust``.
    trust: list[str] = []
    # Bundled folders only: "module:factory" building the model in code.
    implementation: str | None = None
    training_data: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and raw.get("kind") in KIND_DEFAULTS:
            given = raw.get("preprocess", {})
            if isinstance(given, dict):
                raw = raw | {"preprocess": KIND_DEFAULTS[raw["kind"]] | given}
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> ModelSettings:
        if Path(self.file).name != self.file or self.file.startswith("."):
            raise ValueError("file must be a file name inside the folder")
        if not self.file.endswith(MODEL_SUFFIXES) and self.implementation is None:
            raise ValueError(f"file must end in {' or '.join(MODEL_SUFFIXES)}")
        if self.labels is not None and self.labels_file is not None:
            raise ValueError("give labels or labels_file, not both")
        if self.labels is not None:
            check_labels(self.labels)
        if self.labels_file is not None and Path(self.labels_file).name != self.labels_file:
            raise ValueError("labels_file must be a file name inside the folder")
        if self.kind == "tabular":
            if not self.features:
                raise ValueError("a tabular model needs [[features]], one per input column")
            names = [f.name for f in self.features]
            if len(set(names)) != len(names):
                raise ValueError("two [[features]] have the same name")
        elif self.features:
            raise ValueError(f"[[features]] are for tabular models, not {self.kind}")
        return self


def check_labels(labels: list[str]) -> None:
    if not labels:
        raise ValueError("labels is empty")
    if any(not label.strip() or len(label) > 255 for label in labels):
        raise ValueError("every label needs 1 to 255 characters")
    if len(set(labels)) != len(labels):
        raise ValueError("labels must be unique")


def parse_settings(raw: dict[str, Any], folder: str) -> ModelSettings:
    """Validate ``raw`` (a parsed toml); the folder's name is the default model name."""
    raw = {"name": folder} | raw
    try:
        return ModelSettings.model_validate(raw)
    except ValidationError as exc:
        raise BadModelFolder(folder, describe_errors(exc)) from None


def read_settings(path: Path) -> ModelSettings:
    toml = path / SETTINGS_FILE
    try:
        raw = tomllib.loads(toml.read_text("utf-8"))
    except FileNotFoundError:
        raise BadModelFolder(path.name, f"no {SETTINGS_FILE} in the folder") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadModelFolder(path.name, f"{SETTINGS_FILE} is not valid TOML: {exc}") from None
    return parse_settings(raw, path.name)


def describe_errors(exc: ValidationError) -> str:
    """Pydantic's errors as one line each, naming the key: ``preprocess.size: ...``."""
    lines = []
    for error in exc.errors(include_url=False):
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}" if key else message)
    return "; ".join(lines)
