"""Thumbnails: a seller's photo decoded under the image rules, shrunk, re-encoded by us.

What we send shoppers is always an image we encoded ourselves: no metadata, no colour
profile tricks, no animation, nothing of the seller's bytes passed through.
"""

from __future__ import annotations

from enum import StrEnum

from pipeline.images import ImageLimits, shrink_encode

ALLOWED_SIZES = (96, 160, 320, 640)
_QUALITY = 82


class ThumbFormat(StrEnum):
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def media_type(self) -> str:
        return f"image/{self.value}"


def make_thumbnail(data: bytes, size: int, fmt: ThumbFormat, limits: ImageLimits) -> bytes:
    """``data`` shrunk to fit a ``size`` x ``size`` box (never enlarged), as ``fmt``.

    Raises ValueError for a size not in ALLOWED_SIZES, PermanentError when ``data`` is not
    an image we accept (:func:`pipeline.images.decode_rgb`).
    """
    if size not in ALLOWED_SIZES:
        raise ValueError(f"size must be one of {ALLOWED_SIZES}, got {size}")
    # JPEG decodes at reduced scale down to twice the box: most of the saving on big
    # photos, and LANCZOS still has pixels to spare.
    return shrink_encode(data, limits, size, fmt=fmt.name, quality=_QUALITY, draft=size * 2)
