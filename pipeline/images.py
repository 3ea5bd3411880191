"""The one set of image rules: which formats we take, how many bytes and pixels, one decode.

The scrape's check, the embedder, QC and the thumbnail route all call :func:`decode_rgb`,
so an image the scrape accepts is an image every later stage can read (a GIF that passed
the scrape and was then refused by the embedder lost the seller that product).

Bytes from strangers are checked before a pixel is decoded: the byte size, then the
header's width x height against the pixel budget (``CATALOG_MAX_IMAGE_PIXELS``). The header
is parsed through the format plugin itself, not ``Image.open``: Pillow's own bomb check
only *warns* below twice its limit, and warnings filters are process-global (decodes run
on thread pools), so we compare the header ourselves and raise PermanentError with the
numbers instead.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import struct
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFile, ImageOps

from pipeline.errors import PermanentError
from pipeline.settings import CatalogSettings

# Pillow registers its plugins lazily; register them all once, then keep only ours.
Image.init()
with contextlib.suppress(ImportError):  # HEIC/HEIF only where pillow-heif is installed
    importlib.import_module("pillow_heif").register_heif_opener()

# Pillow's openers we try, in order. MPO (multi-picture JPEG from phone cameras) is opened
# by the JPEG opener; AVIF and HEIF only where this Pillow build can decode them.
_OPENERS = tuple(
    fmt for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP", "AVIF", "HEIF") if fmt in Image.OPEN
)
ACCEPTED_FORMATS = frozenset(_OPENERS) | ({"MPO"} if "JPEG" in _OPENERS else set())
# What we ask a seller's host for (the Accept header of image downloads).
IMAGE_ACCEPT = "image/avif,image/webp,image/jpeg,image/png,image/gif;q=0.9,image/*;q=0.5"

# What Pillow raises on truncated or corrupt data, and on headers it cannot parse.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)


@dataclass(frozen=True)
class ImageLimits:
    """What we accept from a seller: bytes on the wire and decoded pixels."""

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000

    @classmethod
    def from_settings(cls, catalog: CatalogSettings) -> ImageLimits:
        """``CATALOG_MAX_IMAGE_BYTES`` and ``CATALOG_MAX_IMAGE_PIXELS``."""
        return cls(max_bytes=catalog.max_image_bytes, max_pixels=catalog.max_image_pixels)


@dataclass(frozen=True)
class Decoded:
    """An image as RGB (first frame, EXIF orientation applied, transparency on white)."""

    image: Image.Image
    format: str  # as Pillow names it: JPEG, MPO, PNG, GIF, WEBP, BMP, AVIF, HEIF
    width: int  # of the stored image, before any reduced-scale decode
    height: int


def decode_rgb(data: bytes, limits: ImageLimits, *, draft: int | None = None) -> Decoded:
    """Decode ``data`` after checking its size and its header.

    ``draft`` lets JPEG decode at 1/2..1/8 scale while staying at least ``draft`` pixels on
    each side (for callers that shrink the image anyway). Raises PermanentError, with the
    reason, for empty or oversized bytes, a format we do not accept, an image over the
    pixel budget (a decompression bomb) and corrupt or truncated data.
    """
    try:
        with open_checked(data, limits) as source:
            fmt = source.format or "?"
            width, height = source.size
            if draft is not None and fmt in ("JPEG", "MPO"):
                source.draft("RGB", (draft, draft))
            # The first frame only (GIF, WebP, AVIF, MPO keep the others behind seek()).
            image = ImageOps.exif_transpose(source)
            image.load()
            rgb = on_white(image)
    except PermanentError:
        raise
    except Image.DecompressionBombError as exc:
        raise PermanentError(f"image refused as a decompression bomb: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise PermanentError(
            f"image is not a decodable image: corrupt or truncated: {str(exc)[:200]}"
        ) from exc
    return Decoded(rgb, fmt, width, height)


class ImageTooLarge(PermanentError):
    """Over the byte or pixel budget (known before a pixel is decoded)."""


def open_checked(data: bytes, limits: ImageLimits) -> ImageFile.ImageFile:
    """The image's header, parsed and checked, its pixels not yet decoded. Raises
    ImageTooLarge over the byte or pixel budget, PermanentError for empty data or a format
    we do not accept; Pillow's decode errors (OSError ...) for a corrupt header."""
    if not data:
        raise PermanentError("image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes, over the {limits.max_bytes} limit")
    source = _open_header(data)
    width, height = source.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        source.close()
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels, over the "
            f"{limits.max_pixels} limit (a decompression bomb?)"
        )
    return source


def check_image(data: bytes, limits: ImageLimits) -> Decoded:
    """The scrape's check: the full decode every later stage will do. Raises as
    :func:`decode_rgb`."""
    return decode_rgb(data, limits)


def _open_header(data: bytes) -> ImageFile.ImageFile:
    """Parse the header through the first accepted plugin that takes it."""
    prefix = data[:16]
    failure: BaseException | None = None
    for fmt in _OPENERS:
        factory, accept = Image.OPEN[fmt]
        verdict: Any = accept(prefix) if accept is not None else True
        if not verdict or isinstance(verdict, str):  # a str is Pillow's "maybe, but ..." note
            continue
        try:
            opened: ImageFile.ImageFile = factory(io.BytesIO(data), "")
        except _DECODE_ERRORS as exc:  # as Image.open does: let the next plugin try
            failure = exc
            continue
        return opened
    if failure is not None:
        raise failure
    accepted = ", ".join(sorted(ACCEPTED_FORMATS))
    raise PermanentError(f"image is not a decodable image: format not recognised ({accepted})")


def on_white(image: Image.Image) -> Image.Image:
    """RGB on white: transparent PNGs and palette GIFs look as the seller meant them."""
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def shrink_encode(
    data: bytes,
    limits: ImageLimits,
    max_side: int,
    *,
    fmt: str = "JPEG",
    quality: int = 85,
    draft: int | None = None,
) -> bytes:
    """``data`` decoded, shrunk to fit ``max_side`` x ``max_side`` (never enlarged) and
    encoded by us as ``fmt`` (JPEG or WEBP): no metadata, no profile, no animation of the
    seller's passes through. ``draft`` defaults to ``max_side``. Raises as
    :func:`decode_rgb`, and ValueError for another ``fmt``.
    """
    if fmt not in ("JPEG", "WEBP"):
        raise ValueError(f"fmt must be JPEG or WEBP, got {fmt!r}")
    image = decode_rgb(data, limits, draft=draft or max_side).image
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()
