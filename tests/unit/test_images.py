"""The one set of image rules: every format the scrape accepts is one the embedder, QC and
the thumbnails can read; one pixel budget; the first frame; EXIF orientation applied."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, features

from pipeline.embedding.images import PreprocessSpec, decode_image
from pipeline.errors import PermanentError
from pipeline.images import ACCEPTED_FORMATS, ImageLimits, check_image, decode_rgb, shrink_encode
from pipeline.settings import CatalogSettings
from serve.web.imaging import ThumbFormat, make_thumbnail

LIMITS = ImageLimits(max_bytes=5_000_000, max_pixels=40_000_000)


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _animated_gif() -> bytes:
    red = Image.new("P", (60, 40))
    red.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    blue = red.copy()
    blue.paste(1, (0, 0, 60, 40))
    return _encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)


def _samples() -> dict[str, bytes]:
    photo = Image.new("RGB", (64, 48), (200, 30, 30))
    out = {
        "JPEG": _encode(photo, "JPEG"),
        "PNG": _encode(photo, "PNG"),
        "WEBP": _encode(photo, "WEBP"),
        "BMP": _encode(photo, "BMP"),
        "GIF": _animated_gif(),
        "MPO": _encode(photo, "MPO", save_all=True, append_images=[photo.copy()]),
    }
    if features.check("avif"):
        out["AVIF"] = _encode(photo, "AVIF")
    return out


SAMPLES = _samples()


def test_accepted_formats_follow_this_pillow() -> None:
    assert {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"} <= ACCEPTED_FORMATS
    assert ("AVIF" in ACCEPTED_FORMATS) == features.check("avif")
    assert "TIFF" not in ACCEPTED_FORMATS and "PSD" not in ACCEPTED_FORMATS


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_format_the_scrape_accepts_is_read_by_every_stage(fmt: str) -> None:
    data = SAMPLES[fmt]
    checked = check_image(data, LIMITS)
    assert checked.format == fmt and (checked.width, checked.height) in ((64, 48), (60, 40))
    pixels = decode_image(data, PreprocessSpec(), LIMITS)  # the embedder
    assert pixels.shape == (224, 224, 3)
    qc = Image.open(io.BytesIO(shrink_encode(data, LIMITS, 32)))  # Gemini's QC photo
    assert qc.format == "JPEG" and max(qc.size) == 32
    thumb = Image.open(io.BytesIO(make_thumbnail(data, 96, ThumbFormat.WEBP, LIMITS)))
    assert thumb.format == "WEBP" and thumb.size in ((64, 48), (60, 40))  # never enlarged


def test_an_animation_is_its_first_frame() -> None:
    image = decode_rgb(SAMPLES["GIF"], LIMITS).image
    assert image.mode == "RGB" and image.getpixel((10, 10)) == (255, 0, 0)


def test_exif_orientation_is_applied() -> None:
    wide = Image.new("RGB", (80, 20), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the camera held upright
    data = _encode(wide, "JPEG", exif=exif.tobytes())
    decoded = decode_rgb(data, LIMITS)
    assert decoded.image.size == (20, 80) and (decoded.width, decoded.height) == (80, 20)


def test_transparency_is_flattened_on_white() -> None:
    clear = _encode(Image.new("RGBA", (30, 30), (0, 0, 0, 0)), "PNG")
    assert decode_rgb(clear, LIMITS).image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.filterwarnings("error")
def test_one_pixel_budget_from_settings_everywhere() -> None:
    limits = ImageLimits.from_settings(CatalogSettings(max_image_pixels=10_000))
    assert limits.max_pixels == 10_000
    data = _encode(Image.new("RGB", (200, 100)), "PNG")
    for decode in (
        lambda: check_image(data, limits),
        lambda: decode_image(data, PreprocessSpec(), limits),
        lambda: shrink_encode(data, limits, 64),
        lambda: make_thumbnail(data, 96, ThumbFormat.JPEG, limits),
    ):
        with pytest.raises(PermanentError, match=r"200x100 = 20000 pixels, over the 10000 limit"):
            decode()
    # The budget defaults to the setting's default (QC had its own 50 MP).
    assert ImageLimits().max_pixels == CatalogSettings().max_image_pixels == 40_000_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"plain text, not a picture", "format not recognised"),
        (_encode(Image.new("RGB", (8, 8)), "TIFF"), "format not recognised"),
        (b"GIF89a" + b"\x00" * 40, "corrupt or truncated"),
        (SAMPLES["JPEG"][: len(SAMPLES["JPEG"]) // 2], "corrupt or truncated"),
        (b"\xff" * 6_000_000, "over the 5000000 limit"),
    ],
    ids=["empty", "text", "tiff", "gif-header-only", "half-jpeg", "too-many-bytes"],
)
def test_bad_images_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        decode_rgb(data, LIMITS)


def test_jpeg_draft_keeps_at_least_the_asked_size() -> None:
    big = _encode(Image.fromarray(np.full((2000, 3000, 3), 90, dtype=np.uint8)), "JPEG")
    decoded = decode_rgb(big, LIMITS, draft=224)
    assert min(decoded.image.size) >= 224 and decoded.image.size[0] < 3000
    assert (decoded.width, decoded.height) == (3000, 2000)
