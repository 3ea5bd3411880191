"""Is this an image we can use? Checked on download, before anything embeds it."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from pipeline.errors import PermanentError

IMAGE_ACCEPT = "image/avif,image/webp,image/jpeg,image/png,image/gif;q=0.9,image/*;q=0.5"
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO", "AVIF"})


def check_image(data: bytes, url: str, max_pixels: int) -> tuple[str, int, int]:
    """Decode ``data`` fully and return (format, width, height).

    Raises PermanentError when it is not an image of a known format, is truncated or
    corrupt, or has more than ``max_pixels`` pixels (a decompression bomb).
    """
    where = url[:200]
    if not data:
        raise PermanentError(f"image {where} is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (DecompressionBombWarning) before it errors; we decide ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or "?"
                width, height = image.size
                if fmt not in ALLOWED_FORMATS:
                    raise PermanentError(f"image {where} has unsupported format {fmt}")
                if width * height > max_pixels:
                    raise PermanentError(
                        f"image {where} is {width}x{height}, over {max_pixels} pixels"
                    )
                image.load()
    except PermanentError:
        raise
    except UnidentifiedImageError as exc:
        raise PermanentError(f"image {where} is not a decodable image: unknown format") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PermanentError(f"image {where} is not a decodable image: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise PermanentError(f"image {where} is a decompression bomb: {exc}") from exc
    return fmt, width, height
