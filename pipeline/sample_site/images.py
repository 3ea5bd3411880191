"""Product photos for the sample site: real JPEGs drawn with Pillow, deterministic.

A photo shows what the product's name says: a mug looks like a mug, in the colour the
name states, with the name written on a label under it (``words`` reads the name,
``drawings`` draws the kind). The image key still varies the background, the place and
the size, and mirrors some views, so a product's second photo and two products of the
same name differ, and the same key and name always give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from pipeline.sample_site.drawings import DRAWINGS, Pen
from pipeline.sample_site.words import COLOURS, colour_of, kind_of, rgb_of

SIZE = 320
LABEL_SHARE = 0.2  # the bottom fifth of the photo is the label with the name
LABEL_BACKGROUND = (252, 252, 250)
LABEL_INK = (28, 28, 30)
_SUPERSAMPLE = 2  # draw at twice the size and shrink: smooth edges without antialiasing
_KINDS = sorted(DRAWINGS)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_COLOURS = sorted(COLOURS)


def label_top(size: int = SIZE) -> int:
    """The first pixel row of the label band."""
    return size - round(size * LABEL_SHARE)


def _background(digest: bytes, fill: tuple[int, int, int]) -> tuple[int, int, int]:
    # A pale backdrop, or a slate one behind pale goods (a white mug on white is lost).
    if min(fill) > 150:
        return (62 + digest[0] % 30, 70 + digest[1] % 30, 80 + digest[2] % 30)
    return (214 + digest[0] % 36, 214 + digest[1] % 36, 214 + digest[2] % 36)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _wrapped(name: str, draw: ImageDraw.ImageDraw, font: Font, width: float) -> list[str]:
    """At most two lines that fit ``width``; a longer name ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in name.split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    if len(lines) > 2:
        last = lines[1]
        while last and draw.textlength(last + "...", font=font) > width:
            last = last[:-1]
        lines = [lines[0], last.rstrip() + "..."]
    return lines


def _printable(name: str) -> str:
    """The name without accents: Pillow's built-in font draws ASCII only, and it is the one
    font every install has (a system font would make the bytes differ between machines)."""
    folded = unicodedata.normalize("NFKD", name)
    return "".join(c for c in folded if c.isascii() and c.isprintable()).strip()


def _label(image: Image.Image, name: str) -> None:
    size = image.width
    top = label_top(size)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, top, size, size), fill=LABEL_BACKGROUND)
    text = _printable(name)
    if not text:
        return
    font = _font(max(8, round(size * 0.058)))
    lines = _wrapped(text, draw, font, size * 0.92)
    step = (size - top) / (len(lines) + 1)
    for i, line in enumerate(lines):
        y = top + step * (i + 1)
        draw.text((size / 2, y), line, fill=LABEL_INK, font=font, anchor="mm")


@functools.lru_cache(maxsize=4096)
def product_jpeg(key: str, size: int = SIZE, name: str = "") -> bytes:
    """A JPEG photo of the product ``name`` (its kind, its colour, its name on a label).

    Without a name the kind and colour come from ``key``, and the label stays blank.
    The same key and name always give the same bytes.
    """
    digest = hashlib.sha256(f"{key}\x00{name}".encode()).digest()
    kind = kind_of(name) if name else _KINDS[digest[3] % len(_KINDS)]
    colour = colour_of(name) if name else _COLOURS[digest[4] % len(_COLOURS)]
    if colour is None:  # a name without a colour: one of the palette's, stable per name
        colour = _COLOURS[hashlib.sha256(name.encode()).digest()[0] % len(_COLOURS)]
    fill = rgb_of(colour)
    big = size * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), _background(digest, fill))
    area = label_top(big)
    side = area * (0.66 + digest[5] / 255 * 0.12)
    x = (big - side) / 2 + (digest[6] / 255 - 0.5) * big * 0.08
    y = (area - side) / 2 + (digest[7] / 255 - 0.5) * area * 0.06
    DRAWINGS[kind](Pen(ImageDraw.Draw(image), x, y, side, side, fill))
    if digest[8] % 2:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = image.resize((size, size), Image.Resampling.BOX)
    _label(image, name)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


CORRUPT_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"this is not image data " * 20
