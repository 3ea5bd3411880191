"""Image decoding: limits checked before decoding, SigLIP resize, clear refusals."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.embedding.images import (
    PreprocessSpec,
    check_pixels,
    decode_image,
    stack_pixels,
)
from pipeline.errors import PermanentError
from pipeline.images import ImageLimits
from tests.embedding.conftest import make_bomb_png, make_jpeg

SPEC = PreprocessSpec()
LIMITS = ImageLimits(max_bytes=2_000_000, max_pixels=40_000_000)


def test_jpeg_becomes_squashed_224_rgb() -> None:
    # A wide image must be squashed (whole content kept), not cropped: left half red,
    # right half blue stays left/right after resizing to a square.
    arr = np.zeros((100, 400, 3), dtype=np.uint8)
    arr[:, :200] = (255, 0, 0)
    arr[:, 200:] = (0, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=95)
    out = decode_image(buf.getvalue(), SPEC, LIMITS)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    assert out[112, 5, 0] > 200 and out[112, 5, 2] < 60
    assert out[112, 218, 2] > 200 and out[112, 218, 0] < 60


def test_large_jpeg_uses_draft_mode_and_still_fills_the_target() -> None:
    data = make_jpeg(1, size=(3000, 2000))
    out = decode_image(data, SPEC, LIMITS)
    assert out.shape == (224, 224, 3)
    assert out.std() > 1  # real content, not a blank


def test_transparent_png_is_flattened_on_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(buf, "PNG")
    out = decode_image(buf.getvalue(), SPEC, LIMITS)
    assert (out == 255).all()


@pytest.mark.filterwarnings("error")
def test_decompression_bomb_is_refused_without_a_warning() -> None:
    # 144 M pixels: between PIL's warning and error thresholds, where PIL would only warn.
    with pytest.raises(PermanentError, match=r"12000x12000 = 144000000 pixels, over"):
        decode_image(make_bomb_png(12_000), SPEC, LIMITS)


def test_pixel_limit_is_ours() -> None:
    small = ImageLimits(max_bytes=1_000_000, max_pixels=10_000)
    with pytest.raises(PermanentError, match="over the 10000 limit"):
        decode_image(make_jpeg(2, size=(200, 100)), SPEC, small)
    assert decode_image(make_jpeg(2, size=(100, 100)), SPEC, small).shape == (224, 224, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not an image at all, just text", "not recognised"),
        (b"GIF89a" + b"\x00" * 40, "corrupt or truncated"),
        (make_jpeg(3)[:300], "corrupt or truncated"),
        (make_jpeg(3)[: len(make_jpeg(3)) // 2], "corrupt or truncated"),
        (b"\xff" * 3_000_000, "over the 2000000 limit"),
    ],
    ids=["empty", "text", "gif-header-only", "header-only", "half", "too-big"],
)
def test_bad_images_are_permanent_errors(data: bytes, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        decode_image(data, SPEC, LIMITS)


def test_decoding_is_deterministic() -> None:
    data = make_jpeg(4)
    assert np.array_equal(decode_image(data, SPEC, LIMITS), decode_image(data, SPEC, LIMITS))


def test_pixel_batches_are_checked() -> None:
    good = np.zeros((2, 224, 224, 3), dtype=np.uint8)
    check_pixels(good, SPEC)
    with pytest.raises(PermanentError, match="uint8 of shape"):
        check_pixels(good.astype(np.float32), SPEC)  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match="uint8 of shape"):
        check_pixels(np.zeros((2, 100, 100, 3), dtype=np.uint8), SPEC)
    assert stack_pixels([], SPEC).shape == (0, 224, 224, 3)
    with pytest.raises(ValueError, match=r"pixels\[0\]"):
        stack_pixels([np.zeros((3, 3, 3), dtype=np.uint8)], SPEC)


def test_spec_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessSpec(interpolation="lanczos9")
    with pytest.raises(ValueError, match="size"):
        PreprocessSpec(size=4)
