"""What is kept of an input picture: the drawing's pixels, or a small thumbnail of a photo.

Never the bytes as sent (unless ``MODELPORT_KEEP_UPLOADS`` keeps them apart): a file can
carry anything besides its pixels (a 15 MB private chunk in a 1 KB drawing), and the history
would host it for anyone.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from modelport.inputs import photo
from modelport.inputs.decode import sniff_format

THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 85


def thumbnail_jpeg(image: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    """A JPEG no larger than ``size`` px on its longer side, for history pages."""
    return photo.thumbnail_jpeg(image, (size, size), THUMBNAIL_QUALITY)


# A canvas's own PNG holds nothing but its pixels: kept as it came when it is also small.
KEEP_AS_SENT_BYTES = 64 * 1024
PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
STORED_DRAWING_SIDE = 1024
STORABLE_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


def drawing_as_stored(data: bytes, image: Image.Image) -> tuple[bytes, str]:
    """A PNG of what was drawn: the canvas's own file when it holds only its pixels (what
    browsers send, so nothing is re-encoded on the common path), else the decoded picture
    encoded again, at most ``STORED_DRAWING_SIDE`` pixels a side."""
    small = len(data) <= KEEP_AS_SENT_BYTES and max(image.size) <= STORED_DRAWING_SIDE
    if small and only_pixels(data):
        return data, "image/png"
    shown = image if image.mode in STORABLE_MODES else photo.to_rgb(image)
    if max(shown.size) > STORED_DRAWING_SIDE:
        shown = shown.copy()
        shown.thumbnail((STORED_DRAWING_SIDE, STORED_DRAWING_SIDE), Image.Resampling.BOX)
    buffer = io.BytesIO()
    shown.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"


def only_pixels(data: bytes) -> bool:
    """Whether ``data`` is a PNG whose chunks are all pixel data, ending at IEND."""
    if sniff_format(data) != "PNG":
        return False
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind not in PIXEL_CHUNKS:
            return False
        offset += 12 + length
        if kind == b"IEND":
            return offset == len(data)
    return False
