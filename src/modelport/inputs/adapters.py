"""What arrives, turned into one model input as the model folder's settings describe.

Pictures (``photo`` and ``sketch``) are decoded here with the limits enforced; a table row
(``tabular``) is checked feature by feature. Every refusal is an :class:`InputError` that
names what is wrong, so a client can fix it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from modelport.inputs import photo, sketch
from modelport.inputs.decode import Limits, open_image, open_photo
from modelport.inputs.errors import InputError

if TYPE_CHECKING:
    from modelport.models.settings import Feature, Preprocess

PHOTO_DRAFT_FLOOR = 320
SKETCH_MAX_PIXELS = 2048 * 2048
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale only while it stays this much larger than the
# model's input, so the resize that follows still has pixels to average.
DRAFT_MARGIN = 10 / 7


def decode_picture(kind: str, data: bytes, limits: Limits, preprocess: Preprocess) -> Image.Image:
    if kind == "photo":
        side = max(PHOTO_DRAFT_FLOOR, math.ceil(max(preprocess.size) * DRAFT_MARGIN))
        return open_photo(data, limits, draft_size=(side, side))
    return open_image(data, sketch_limits(limits))


def sketch_limits(limits: Limits) -> Limits:
    """A drawing is a canvas: one larger than ``SKETCH_MAX_PIXELS`` (a 560 px canvas on a
    3x screen is 2.8 million) is refused before decoding, not decoded for a second of CPU."""
    return replace(limits, max_pixels=min(limits.max_pixels, SKETCH_MAX_PIXELS))


def photo_input(image: Image.Image, preprocess: Preprocess) -> np.ndarray:
    """A photo resized as ``preprocess.resize`` says, then normalised per channel."""
    rgb = photo.to_rgb(image)
    size = preprocess.size
    if preprocess.resize == "stretch":
        shaped = rgb.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    elif preprocess.resize == "pad":
        shaped = ImageOps.pad(rgb, size, Image.Resampling.BICUBIC, color=(0, 0, 0))
    else:
        box = crop_box(rgb.size, size, preprocess.crop_fraction)
        shaped = rgb.resize(size, Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
    if preprocess.channels == "L":
        pixels = np.asarray(shaped.convert("L"))[:, :, None]
    else:
        pixels = np.asarray(shaped)
        if preprocess.channels == "BGR":
            pixels = pixels[:, :, ::-1]
    return normalise(pixels, preprocess)


def crop_box(
    image_size: tuple[int, int], size: tuple[int, int], fraction: float = 1.0
) -> tuple[float, float, float, float]:
    """The largest centred box of the model's aspect, times ``fraction`` of each side."""
    width, height = image_size
    aspect = size[0] / size[1]
    box_w, box_h = (height * aspect, height) if width / height > aspect else (width, width / aspect)
    box_w, box_h = box_w * fraction, box_h * fraction
    left, top = (width - box_w) / 2, (height - box_h) / 2
    return (left, top, left + box_w, top + box_h)


def sketch_input(image: Image.Image, preprocess: Preprocess) -> np.ndarray:
    """A drawing in the MNIST layout at the model's size: white ink on black from 0 to
    255 (or black on white with ``invert``), then normalised like a photo."""
    ink = sketch.to_mnist(sketch.ink_from_image(image), preprocess.size)
    if preprocess.invert:
        ink = 1.0 - ink
    pixels = ink[:, :, None]
    if preprocess.channels != "L":
        pixels = np.repeat(pixels, 3, axis=2)
    return normalise(pixels, preprocess, peak=1.0)


def normalise(pixels: np.ndarray, preprocess: Preprocess, peak: float = 255.0) -> np.ndarray:
    """``(pixel / scale - mean) / std`` on (H, W, C) pixels from 0 to ``peak``, laid out.

    Worked a channel plane at a time, in place on one copy: the same arithmetic over a last
    axis of three channels took NumPy fifteen times as long (1 ms for 224x224 RGB).
    """
    working = np.result_type(pixels.dtype, np.float32)  # float64 ink stays float64 here
    planes = pixels.transpose(2, 0, 1).astype(working, order="C")
    factor = 255.0 / peak / preprocess.scale
    if factor != 1.0:
        planes *= np.float32(factor)
    mean = np.asarray(preprocess.mean, np.float32)[:, None, None]
    std = np.asarray(preprocess.std, np.float32)[:, None, None]
    if mean.any():
        planes -= mean
    if (std != 1).any():
        planes /= std
    planes = planes.astype(np.float32, copy=False)
    if preprocess.layout == "NCHW":
        return planes
    return np.ascontiguousarray(planes.transpose(1, 2, 0))


def table_rows(inputs: Any, features: Sequence[Feature]) -> list[dict[str, Any]]:
    """``{"feature": value}`` or a list of them, each checked; the rows, in order."""
    rows = inputs if isinstance(inputs, list) else [inputs]
    if not rows:
        raise InputError("missing_inputs", "'inputs' is an empty list: send at least one row.", 422)
    for index, row in enumerate(rows):
        check_row(row, features, f"row {index}: " if isinstance(inputs, list) else "")
    return rows


def check_row(row: Any, features: Sequence[Feature], where: str = "") -> None:
    if not isinstance(row, Mapping):
        raise InputError(
            "invalid_inputs", f"{where}a row must be an object of feature: value.", 422
        )
    names = [feature.name for feature in features]
    extra = [key for key in row if key not in names]
    if extra:
        raise InputError(
            "unknown_feature",
            f"{where}unknown feature {extra[0]!r}; the features are {', '.join(names)}.",
            422,
        )
    for feature in features:
        if feature.name not in row or row[feature.name] is None:
            raise InputError("missing_feature", f"{where}feature {feature.name!r} is missing.", 422)
        _check_value(feature, row[feature.name], where)


def _check_value(feature: Feature, value: Any, where: str) -> None:
    name = feature.name
    if feature.type == "category":
        if not isinstance(value, str) or value not in (feature.choices or []):
            raise InputError(
                "invalid_feature",
                f"{where}feature {name!r} must be one of {', '.join(feature.choices or [])}.",
                422,
            )
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("invalid_feature", f"{where}feature {name!r} must be a number.", 422)
    if feature.min is not None and value < feature.min:
        raise InputError(
            "invalid_feature", f"{where}feature {name!r} must be at least {feature.min:g}.", 422
        )
    if feature.max is not None and value > feature.max:
        raise InputError(
            "invalid_feature", f"{where}feature {name!r} must be at most {feature.max:g}.", 422
        )


def row_input(row: Mapping[str, Any], features: Sequence[Feature], numeric: bool) -> np.ndarray:
    """A checked row as one model input: numbers as they are, categories as their text
    or, for a model that takes only numbers (ONNX), as their index among the choices."""
    values: list[Any] = []
    for feature in features:
        value = row[feature.name]
        if feature.type == "category":
            values.append((feature.choices or []).index(value) if numeric else value)
        else:
            values.append(float(value))
    return np.asarray(values, dtype=np.float32 if numeric else object)


def form_row(form: Mapping[str, str], features: Sequence[Feature]) -> dict[str, Any]:
    """A page's form fields (all text) as a row: numbers parsed, categories kept."""
    row: dict[str, Any] = {}
    for feature in features:
        text = (form.get(feature.name) or "").strip()
        if not text:
            continue
        if feature.type == "number":
            try:
                row[feature.name] = float(text)
            except ValueError:
                raise InputError(
                    "invalid_feature", f"feature {feature.name!r} must be a number.", 422
                ) from None
        else:
            row[feature.name] = text
    return row
