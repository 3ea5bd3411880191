"""SigLIP's own preprocessing, without torch, over the one decode of :mod:`pipeline.images`.

Preprocessing follows SigLIP (big_vision): squash-resize to the model's square input
with bicubic filtering, then ``(x / 255 - 0.5) / 0.5``. The uint8 pixels are what
travels between processes (4x smaller than float32); the normalization to floats is done
by the model runner next to the model (:func:`normalize_pixels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from pipeline.errors import PermanentError
from pipeline.images import ImageLimits, decode_rgb

Pixels = npt.NDArray[np.uint8]  # shape (n, size, size, 3), RGB

_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


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


def decode_image(data: bytes, spec: PreprocessSpec, limits: ImageLimits) -> Pixels:
    """Decode one image and resize it for the model: uint8 of shape (size, size, 3).

    Raises PermanentError (with the reason) as :func:`pipeline.images.decode_rgb` does.
    """
    # JPEG: a DCT-domain downscale to no less than the target, 3-10x faster on large
    # photos, and the bicubic pass below still sees >= size pixels.
    decoded = decode_rgb(data, limits, draft=spec.size)
    return _resize(decoded.image, spec)


def _resize(img: Image.Image, spec: PreprocessSpec) -> Pixels:
    size = spec.size
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
