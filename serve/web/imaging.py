"""Thumbnails: decode a seller's photo with limits, shrink it, re-encode it as JPEG or WebP.

What we send shoppers is always an image we encoded ourselves: no metadata, no colour
profile tricks, no animation, nothing of the seller's bytes passed through.
"""

from __future__ import annotations

import io
import warnings
from enum import StrEnum

from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.errors import PermanentError

ALLOWED_SIZES = (96, 160, 320, 640)
_QUALITY = 82


class ThumbFormat(StrEnum):
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def media_type(self) -> str:
        return f"image/{self.value}"


def make_thumbnail(data: bytes, size: int, fmt: ThumbFormat, max_pixels: int) -> bytes:
    """``data`` shrunk to fit a ``size`` x ``size`` box (never enlarged), as ``fmt``.

    Raises ValueError for a size not in ALLOWED_SIZES, PermanentError when ``data`` is not
    a decodable image or has more than ``max_pixels`` pixels (a decompression bomb).
    """
    if size not in ALLOWED_SIZES:
        raise ValueError(f"size must be one of {ALLOWED_SIZES}, got {size}")
    try:
        with warnings.catch_warnings():
            # Pillow warns before it refuses a bomb; the pixel check below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as source:
                width, height = source.size
                if width * height > max_pixels:
                    raise PermanentError(f"image is {width}x{height}, over {max_pixels} pixels")
                # JPEG draft mode decodes at 1/2..1/8 scale: most of the saving on big photos.
                source.draft("RGB", (size * 2, size * 2))
                image = ImageOps.exif_transpose(source)
                image.load()
                image = _flatten(image)
                image.thumbnail((size, size), Image.Resampling.LANCZOS)
    except PermanentError:
        raise
    except UnidentifiedImageError as exc:
        raise PermanentError("the image is not in a format we can decode") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PermanentError(f"the image does not decode: {str(exc)[:200]}") from exc
    out = io.BytesIO()
    if fmt is ThumbFormat.WEBP:
        image.save(out, "WEBP", quality=_QUALITY, method=4)
    else:
        image.save(out, "JPEG", quality=_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparent PNGs and palette GIFs look as the seller meant them."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image
