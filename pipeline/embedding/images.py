"""Image decoding with limits, and SigLIP's own preprocessing, without torch.

Bytes from strangers are checked before any pixel is decoded: the byte size, then the
header's width x height against a pixel budget. PIL's own decompression-bomb guard only
*warns* below twice its limit (and warnings are errors in this project), so we compare
the header ourselves and raise :class:`PermanentError` with the numbers instead.

Preprocessing follows SigLIP (big_vision): squash-resize to the model's square input
with bicubic filtering, then ``(x / 255 - 0.5) / 0.5``. The uint8 pixels are what
travels between processes (4x smaller than float32); the normalization to floats is done
by the model runner next to the model (:func:`normalize_pixels`).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import (  # importing the plugins registers them in Image.OPEN
    BmpImagePlugin,  # noqa: F401
    Image,
    ImageFile,
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    WebPImagePlugin,  # noqa: F401
)

from pipeline.errors import PermanentError

Pixels = npt.NDArray[np.uint8]  # shape (n, size, size, 3), RGB

_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
# GIF is left out: its frames may grow the canvas during decode, past our header check.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")


@dataclass(frozen=True)
class PreprocessSpec:
    """How pixels enter the model. The defaults are SigLIP's."""

    size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    resize_mode: str = "squash"

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 2048:
            raise ValueError(f"image size must be 8-2048, got {self.size}")
        if self.interpolation not in _FILTERS:
            raise ValueError(f"interpolation must be one of {sorted(_FILTERS)}")
        if self.resize_mode not in ("squash", "shortest"):
            raise ValueError(f"resize_mode must be squash or shortest, got {self.resize_mode!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need 3 values each, std > 0")


@dataclass(frozen=True)
class ImageLimits:
    """What we accept from a seller: bytes on the wire and decoded pixels."""

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000


def decode_image(data: bytes, spec: PreprocessSpec, limits: ImageLimits) -> Pixels:
    """Decode one image and resize it for the model: uint8 of shape (size, size, 3).

    Raises PermanentError (with the reason) for empty, oversized, unknown, corrupt or
    truncated images and for images over the pixel budget (decompression bombs).
    """
    if not data:
        raise PermanentError("image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise PermanentError(f"image is {len(data)} bytes, over the {limits.max_bytes} limit")
    try:
        with _open_header(data) as img:
            width, height = img.size
            if width < 1 or height < 1 or width * height > limits.max_pixels:
                raise PermanentError(
                    f"image is {width}x{height} = {width * height} pixels, over the "
                    f"{limits.max_pixels} limit (decompression bomb?)"
                )
            return _resize(img, spec)
    except PermanentError:
        raise
    except Image.DecompressionBombError as exc:
        raise PermanentError(f"image refused as a decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as exc:
        # PIL reports truncated and corrupt data as OSError/ValueError/SyntaxError.
        raise PermanentError(f"image is corrupt or truncated: {exc}") from exc


def _open_header(data: bytes) -> ImageFile.ImageFile:
    """Parse only the header, through the format plugin itself.

    ``Image.open`` runs PIL's bomb check, which *warns* (a process-global side effect,
    and an error under our test settings) for sizes between its limit and twice it.
    The plugin constructors read the header without that check; ours runs right after,
    before a single pixel is decoded.
    """
    prefix = data[:16]
    for fmt in _FORMATS:
        factory, accept = Image.OPEN[fmt]
        verdict = accept(prefix) if accept is not None else True
        if not verdict or isinstance(verdict, str):  # a str is PIL's "maybe, but ..." note
            continue
        return factory(io.BytesIO(data), "")
    raise PermanentError("image format not recognised (JPEG, PNG, WebP or BMP only)")


def _resize(img: Image.Image, spec: PreprocessSpec) -> Pixels:
    size = spec.size
    if img.format == "JPEG":
        # DCT-domain downscale (1/2, 1/4, 1/8) to no less than the target: 3-10x faster
        # decode of large photos, and the bicubic pass below still sees >= size pixels.
        img.draft("RGB", (size, size))
    if img.mode != "RGB":
        img = _to_rgb(img)
    if spec.resize_mode == "squash":
        out = img.resize((size, size), _FILTERS[spec.interpolation], reducing_gap=None)
    else:  # shortest side to size, then centre crop (CLIP's convention)
        scale = size / min(img.size)
        w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
        out = img.resize((w, h), _FILTERS[spec.interpolation])
        left, top = (w - size) // 2, (h - size) // 2
        out = out.crop((left, top, left + size, top + size))
    arr = np.asarray(out, dtype=np.uint8)
    if arr.shape != (size, size, 3):
        raise PermanentError(f"image decoded to an unexpected shape {arr.shape}")
    return arr


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white (product shots on transparent PNGs) and convert."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def stack_pixels(images: list[Pixels], spec: PreprocessSpec) -> Pixels:
    """One (n, size, size, 3) array from single images; raises ValueError on a wrong shape."""
    if not images:
        return np.zeros((0, spec.size, spec.size, 3), dtype=np.uint8)
    for i, arr in enumerate(images):
        if arr.shape != (spec.size, spec.size, 3) or arr.dtype != np.uint8:
            raise ValueError(
                f"pixels[{i}] must be uint8 of shape {(spec.size, spec.size, 3)}, "
                f"got {arr.dtype} {arr.shape}"
            )
    return np.stack(images)


def check_pixels(pixels: Pixels, spec: PreprocessSpec) -> None:
    """Raise PermanentError unless ``pixels`` is a uint8 (n, size, size, 3) batch."""
    expected = (spec.size, spec.size, 3)
    if pixels.ndim != 4 or pixels.shape[1:] != expected or pixels.dtype != np.uint8:
        raise PermanentError(
            f"pixels must be uint8 of shape (n, {spec.size}, {spec.size}, 3), "
            f"got {pixels.dtype} {pixels.shape}"
        )
