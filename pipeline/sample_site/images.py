"""Product photos for the sample site: real JPEGs drawn with Pillow, deterministic per key.

Each key gets its own background, object colour, shape and position, so embeddings of
different products differ and the same product always looks the same.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math

from PIL import Image, ImageDraw

SIZE = 320
_PALETTE = [
    (220, 40, 40),
    (40, 90, 220),
    (40, 170, 80),
    (240, 200, 40),
    (30, 30, 30),
    (245, 245, 245),
    (250, 140, 30),
    (140, 60, 180),
    (20, 150, 150),
    (180, 110, 60),
]
_SHAPES = ("circle", "square", "triangle", "star", "ellipse", "ring")


def _star(cx: float, cy: float, r: float, points: int = 5) -> list[tuple[float, float]]:
    out = []
    for i in range(points * 2):
        radius = r if i % 2 == 0 else r * 0.45
        angle = math.pi / points * i - math.pi / 2
        out.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return out


@functools.lru_cache(maxsize=4096)
def product_jpeg(key: str, size: int = SIZE) -> bytes:
    """A JPEG of a drawn 'product' for ``key``; the same key always gives the same bytes."""
    digest = hashlib.sha256(key.encode()).digest()
    background = (200 + digest[0] % 56, 200 + digest[1] % 56, 200 + digest[2] % 56)
    colour = _PALETTE[digest[3] % len(_PALETTE)]
    accent = _PALETTE[(digest[4] + 3) % len(_PALETTE)]
    shape = _SHAPES[digest[5] % len(_SHAPES)]
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    cx = size * (0.35 + digest[6] / 255 * 0.3)
    cy = size * (0.35 + digest[7] / 255 * 0.3)
    r = size * (0.18 + digest[8] / 255 * 0.12)
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=colour, outline=accent, width=6)
    elif shape == "square":
        draw.rounded_rectangle(box, radius=int(r / 5), fill=colour, outline=accent, width=6)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r), fill=colour, outline=accent)
    elif shape == "ellipse":
        draw.ellipse((cx - r, cy - r / 2, cx + r, cy + r / 2), fill=colour, outline=accent, width=4)
    else:
        draw.ellipse(box, outline=colour, width=int(r / 3))
    # A few stripes so the texture differs too.
    for i in range(digest[9] % 4):
        y = int(size * 0.8) + i * 10
        draw.line((20, y, size - 20, y), fill=accent, width=4)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


CORRUPT_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"this is not image data " * 20
