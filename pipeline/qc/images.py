"""Product images for QC: checked for decodability and downscaled before they are sent."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from pipeline.errors import PermanentError

# Far beyond any product photo; Pillow's own bomb check is a warning, ours is an error.
MAX_PIXELS = 50_000_000


def downscale_jpeg(data: bytes, max_side: int, *, quality: int = 85) -> bytes:
    """The image as an RGB JPEG whose longer side is at most ``max_side`` pixels.

    Raises PermanentError when the bytes are not a decodable image or it is too large.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise PermanentError(
                        f"image has {image.width}x{image.height} pixels, over {MAX_PIXELS}"
                    )
                image.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale
                rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PermanentError(f"image could not be decoded: {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(f"image refused as a decompression bomb: {exc}") from exc
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
