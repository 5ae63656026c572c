"""What is kept of an input picture: the drawing as sent, or a small thumbnail of a photo."""

from __future__ import annotations

import io

from PIL import Image

from modelport.inputs import photo
from modelport.inputs.decode import sniff_format

THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 85
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def thumbnail_jpeg(image: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    """A JPEG no larger than ``size`` px on its longer side, for history pages."""
    return photo.thumbnail_jpeg(image, (size, size), THUMBNAIL_QUALITY)


def drawing_as_stored(data: bytes, image: Image.Image) -> tuple[bytes, str]:
    """The drawing's own bytes when browsers can show them, else a PNG of it."""
    mime = MIME.get(sniff_format(data) or "")
    if mime is not None:
        return data, mime
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"
