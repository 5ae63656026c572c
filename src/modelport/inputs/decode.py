"""Bytes and data URIs to a decoded Pillow image, with every size limit enforced here.

Formats are recognised by their bytes, never by a file name; the image's pixel count
is checked from its header before any pixel is decoded, so a decompression bomb costs
nothing.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from modelport.inputs.errors import InputError

SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("PNG", b"\x89PNG\r\n\x1a\n", 0),
    ("JPEG", b"\xff\xd8\xff", 0),
    ("GIF", b"GIF87a", 0),
    ("GIF", b"GIF89a", 0),
    ("WEBP", b"WEBP", 8),
    ("BMP", b"BM", 0),
)
SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I
)
_WHITESPACE = re.compile(r"\s+")
_SPNG_MODES = {"RGBA", "RGB", "L"}

try:  # optional: a faster PNG decoder (libspng); Pillow decodes everything without it
    import pyspng
except ImportError:  # pragma: no cover - depends on the installation
    pyspng = None


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


def sniff_format(data: bytes) -> str | None:
    """The image format named by the file's first bytes, or None."""
    for name, magic, offset in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if name == "WEBP" and not data.startswith(b"RIFF"):
                continue
            return name
    return None


def bytes_from_data_uri(text: object) -> bytes:
    """The payload of a ``data:image/...;base64,...`` URI (a bare base64 string is accepted too)."""
    if not isinstance(text, str):
        raise InputError("invalid_image", "'image' must be a string holding a data URI.", 400)
    text = text.strip()
    if not text:
        raise InputError("missing_image", "'image' is empty: send a PNG data URI.", 400)
    payload = text
    if text[:5].lower() == "data:":
        match = _DATA_URI.match(text)
        if not match:
            raise InputError("invalid_data_uri", "The data URI is malformed.", 400)
        mime = (match.group("mime") or "").lower()
        if not mime.startswith("image/"):
            raise InputError(
                "not_an_image", f"The data URI holds {mime or 'text/plain'}, not an image.", 415
            )
        if not match.group("b64"):
            raise InputError("invalid_data_uri", "The data URI must be base64-encoded.", 400)
        payload = text[match.end() :]
    data = _decode_base64(payload)
    if not data:
        raise InputError("missing_image", "The data URI holds no bytes.", 400)
    return data


def _decode_base64(payload: str) -> bytes:
    """Strict base64. Whitespace (line-wrapped base64) is removed only when decoding fails:
    searching a whole image for it costs more than decoding it."""
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode(_WHITESPACE.sub("", payload), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("invalid_base64", "The image is not valid base64.", 400) from None


def open_image(data: bytes, limits: Limits = Limits()) -> Image.Image:
    """Decode ``data`` into a loaded image (the first frame of an animation).

    JPEGs are decoded at reduced scale through ``draft`` when ``draft_size`` asks for it
    in :func:`open_photo`; here every pixel is decoded.
    """
    image = _open_checked(data, limits)
    fast = _load_png_fast(data, image)
    return fast if fast is not None else _load(image)


def open_photo(data: bytes, limits: Limits = Limits(), draft_size: tuple[int, int] | None = None):
    """Like :func:`open_image`, with EXIF orientation applied and JPEG draft decoding.

    ``draft_size`` lets a 12-megapixel JPEG be decoded at 1/2, 1/4 or 1/8 scale as long
    as the result stays at least that large.
    """
    image = _open_checked(data, limits)
    if draft_size and image.format == "JPEG":
        image.draft("RGB", draft_size)
    image = _load(image)
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the prediction
        return image


def _open_checked(data: bytes, limits: Limits) -> Image.Image:
    if not data:
        raise InputError("empty_file", "The file is empty.", 400)
    if len(data) > limits.max_bytes:
        raise InputError(
            "too_large", f"The image is over the {limits.max_bytes // (1024 * 1024)} MB limit.", 413
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise InputError(
            "unsupported_format",
            "This is not a supported image: send PNG, JPEG, WebP, GIF or BMP.",
            415,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        raise _too_many_pixels(limits) from None
    except (OSError, SyntaxError, ValueError):
        raise InputError("corrupt_image", f"The {fmt} file is damaged or truncated.", 422) from None
    width, height = image.size
    if width < 1 or height < 1:
        raise InputError("corrupt_image", "The image has no pixels.", 422)
    if width * height > limits.max_pixels:
        raise _too_many_pixels(limits, (width, height))
    return image


def _load_png_fast(data: bytes, image: Image.Image) -> Image.Image | None:
    """Plain 8-bit PNGs (what canvases send) decoded by libspng, twice as fast as Pillow.

    The pixels are the same (PNG is lossless; neither applies gamma). Anything else
    (palettes, tRNS transparency, 16 bits, animations), and any error, is left to Pillow,
    which also says what is wrong with a broken file.
    """
    if pyspng is None or image.format != "PNG" or image.mode not in _SPNG_MODES:
        return None
    if "transparency" in image.info or getattr(image, "n_frames", 1) > 1:
        return None
    try:
        pixels = pyspng.load(data, format=image.mode)
    except Exception:
        return None
    if pixels.dtype != np.uint8 or pixels.shape[:2] != (image.height, image.width):
        return None
    return Image.fromarray(pixels, image.mode)


def _too_many_pixels(limits: Limits, size: tuple[int, int] | None = None) -> InputError:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return InputError(
        "too_many_pixels",
        f"The image{shown} has more than {limits.max_pixels:,} pixels.",
        413,
    )


def _load(image: Image.Image) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.seek(0)
            image.load()
    except Image.DecompressionBombError:
        raise InputError("too_many_pixels", "The image has too many pixels.", 413) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InputError(
            "corrupt_image", f"The {image.format} file is damaged or truncated.", 422
        ) from None
    return image
