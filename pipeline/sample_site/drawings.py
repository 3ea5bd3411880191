"""One simple drawing per kind of good (see ``words.KINDS``), in the product's colour.

Each function draws into a :class:`Pen`'s box in unit coordinates (0..1 across, 0..1
down), so the layout in ``images.py`` can place and scale it. Parts in other colours
(a flame, a wick, soil) stay small: the named colour must be what the photo shows most.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageDraw

from pipeline.sample_site.words import RGB

Point = tuple[float, float]
FLAME = (250, 170, 30)
WICK = (40, 40, 40)
SOIL = (70, 45, 30)


def _mix(colour: RGB, other: RGB, share: float) -> RGB:
    r, g, b = (round(c * (1 - share) + o * share) for c, o in zip(colour, other, strict=True))
    return (r, g, b)


@dataclass
class Pen:
    draw: ImageDraw.ImageDraw
    x: float
    y: float
    w: float
    h: float
    fill: RGB

    @property
    def dark(self) -> RGB:
        """Outlines and shadows: darker, or lighter for a colour already near black."""
        if sum(self.fill) < 150:
            return _mix(self.fill, (255, 255, 255), 0.3)
        return _mix(self.fill, (0, 0, 0), 0.4)

    @property
    def shade(self) -> RGB:
        """A fold or flap: the same colour, a little darker (lighter when near black)."""
        if sum(self.fill) < 150:
            return _mix(self.fill, (255, 255, 255), 0.12)
        return _mix(self.fill, (0, 0, 0), 0.18)

    @property
    def light(self) -> RGB:
        return _mix(self.fill, (255, 255, 255), 0.45)

    @property
    def line(self) -> int:
        return max(2, round(self.w * 0.014))

    def p(self, u: float, v: float) -> Point:
        return (self.x + u * self.w, self.y + v * self.h)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> tuple[float, ...]:
        return (*self.p(u0, v0), *self.p(u1, v1))

    def size(self, d: float) -> int:
        return max(1, round(d * self.w))

    def poly(self, points: list[Point], fill: RGB | None = None) -> None:
        self.draw.polygon(
            [self.p(u, v) for u, v in points],
            fill=fill or self.fill,
            outline=self.dark,
            width=self.line,
        )

    def rect(self, u0: float, v0: float, u1: float, v1: float, radius: float = 0.0,
             fill: RGB | None = None) -> None:  # fmt: skip
        self.draw.rounded_rectangle(
            self.box(u0, v0, u1, v1),
            radius=self.size(radius),
            fill=fill or self.fill,
            outline=self.dark,
            width=self.line,
        )

    def oval(self, u0: float, v0: float, u1: float, v1: float, fill: RGB | None = None) -> None:
        box = self.box(u0, v0, u1, v1)
        self.draw.ellipse(box, fill=fill or self.fill, outline=self.dark, width=self.line)

    def ring(self, u0: float, v0: float, u1: float, v1: float, width: float,
             fill: RGB | None = None) -> None:  # fmt: skip
        self.draw.ellipse(self.box(u0, v0, u1, v1), outline=fill or self.fill,
                          width=self.size(width))  # fmt: skip

    def arc(self, u0: float, v0: float, u1: float, v1: float, start: float, end: float,
            width: float, fill: RGB | None = None) -> None:  # fmt: skip
        self.draw.arc(self.box(u0, v0, u1, v1), start, end, fill=fill or self.fill,
                      width=self.size(width))  # fmt: skip

    def stroke(self, points: list[Point], width: float, fill: RGB | None = None) -> None:
        self.draw.line([self.p(u, v) for u, v in points], fill=fill or self.dark,
                       width=self.size(width), joint="curve")  # fmt: skip


def mug(pen: Pen) -> None:
    pen.ring(0.56, 0.3, 0.92, 0.72, 0.075)
    pen.rect(0.12, 0.14, 0.7, 0.92, radius=0.06)
    pen.oval(0.12, 0.08, 0.7, 0.2, fill=pen.dark)
    pen.rect(0.19, 0.26, 0.24, 0.82, radius=0.02, fill=pen.light)


def tote(pen: Pen) -> None:
    pen.arc(0.24, 0.04, 0.48, 0.6, 180, 360, 0.04, fill=pen.dark)
    pen.arc(0.52, 0.04, 0.76, 0.6, 180, 360, 0.04, fill=pen.dark)
    pen.poly([(0.12, 0.32), (0.88, 0.32), (0.84, 0.96), (0.16, 0.96)])
    pen.rect(0.3, 0.5, 0.7, 0.56, fill=pen.light)


def handbag(pen: Pen) -> None:
    pen.arc(0.28, 0.05, 0.72, 0.65, 180, 360, 0.05, fill=pen.dark)
    pen.poly([(0.16, 0.35), (0.84, 0.35), (0.95, 0.92), (0.05, 0.92)])
    pen.poly([(0.16, 0.35), (0.84, 0.35), (0.78, 0.58), (0.22, 0.58)], fill=pen.shade)
    pen.oval(0.46, 0.52, 0.54, 0.62, fill=pen.light)


def wallet(pen: Pen) -> None:
    pen.rect(0.06, 0.24, 0.94, 0.82, radius=0.05)
    pen.rect(0.06, 0.24, 0.94, 0.46, radius=0.05, fill=pen.shade)
    pen.oval(0.76, 0.38, 0.86, 0.5, fill=pen.light)
    pen.stroke([(0.1, 0.76), (0.9, 0.76)], 0.01)


def candle(pen: Pen) -> None:
    pen.rect(0.26, 0.3, 0.74, 0.96, radius=0.03)
    pen.oval(0.26, 0.25, 0.74, 0.36, fill=pen.light)
    pen.stroke([(0.5, 0.3), (0.5, 0.2)], 0.015, fill=WICK)
    pen.draw.polygon(
        [pen.p(0.5, 0.02), pen.p(0.56, 0.14), pen.p(0.5, 0.21), pen.p(0.44, 0.14)], fill=FLAME
    )


def shirt(pen: Pen) -> None:
    pen.poly([(0.37, 0.06), (0.18, 0.12), (0.0, 0.36), (0.13, 0.47), (0.22, 0.38),
              (0.22, 0.96), (0.78, 0.96), (0.78, 0.38), (0.87, 0.47), (1.0, 0.36),
              (0.82, 0.12), (0.63, 0.06), (0.5, 0.17)])  # fmt: skip
    pen.stroke([(0.37, 0.06), (0.5, 0.17), (0.63, 0.06)], 0.02)


def dress(pen: Pen) -> None:
    pen.poly([(0.36, 0.04), (0.42, 0.04), (0.5, 0.14), (0.58, 0.04), (0.64, 0.04),
              (0.66, 0.36), (0.9, 0.96), (0.1, 0.96), (0.34, 0.36)])  # fmt: skip
    pen.stroke([(0.34, 0.38), (0.66, 0.38)], 0.02)


def spoons(pen: Pen) -> None:
    for i in range(3):
        u = 0.2 + 0.3 * i
        pen.rect(u - 0.035, 0.34, u + 0.035, 0.96, radius=0.03)
        pen.oval(u - 0.11, 0.04, u + 0.11, 0.4)
        pen.oval(u - 0.06, 0.1, u + 0.0, 0.24, fill=pen.light)


def basket(pen: Pen) -> None:
    pen.arc(0.22, 0.0, 0.78, 0.7, 180, 360, 0.05)
    pen.poly([(0.06, 0.36), (0.94, 0.36), (0.82, 0.96), (0.18, 0.96)])
    for v in (0.5, 0.64, 0.78):
        pen.stroke([(0.09 + (v - 0.36) * 0.2, v), (0.91 - (v - 0.36) * 0.2, v)], 0.008)
    pen.rect(0.04, 0.32, 0.96, 0.4, radius=0.02)


def earrings(pen: Pen) -> None:
    for u in (0.3, 0.7):
        pen.stroke([(u, 0.08), (u, 0.22)], 0.015)
        pen.ring(u - 0.2, 0.2, u + 0.2, 0.76, 0.09)


def notebook(pen: Pen) -> None:
    pen.rect(0.22, 0.06, 0.84, 0.96, radius=0.02, fill=(240, 238, 228))
    pen.rect(0.18, 0.04, 0.8, 0.94, radius=0.03)
    pen.rect(0.18, 0.04, 0.27, 0.94, radius=0.02, fill=pen.shade)
    pen.rect(0.68, 0.04, 0.71, 0.94, fill=pen.dark)


def scarf(pen: Pen) -> None:
    pen.ring(0.2, 0.02, 0.8, 0.46, 0.11)
    pen.poly([(0.28, 0.3), (0.44, 0.36), (0.4, 0.9), (0.22, 0.88)])
    pen.poly([(0.56, 0.36), (0.72, 0.3), (0.8, 0.86), (0.62, 0.9)])
    for u in (0.24, 0.29, 0.34, 0.38, 0.64, 0.69, 0.74, 0.78):
        pen.stroke([(u, 0.88), (u, 0.97)], 0.012, fill=pen.fill)


def planter(pen: Pen) -> None:
    pen.poly([(0.16, 0.4), (0.84, 0.4), (0.72, 0.96), (0.28, 0.96)])
    pen.rect(0.1, 0.3, 0.9, 0.44, radius=0.02)
    pen.oval(0.16, 0.26, 0.84, 0.36, fill=SOIL)


def vase(pen: Pen) -> None:
    pen.oval(0.16, 0.34, 0.84, 0.96)
    pen.rect(0.38, 0.1, 0.62, 0.44)
    pen.oval(0.3, 0.04, 0.7, 0.16)
    pen.oval(0.26, 0.5, 0.34, 0.7, fill=pen.light)


def bracelet(pen: Pen) -> None:
    beads = 14
    for i in range(beads):
        a = 2 * math.pi * i / beads
        u, v = 0.5 + 0.36 * math.cos(a), 0.52 + 0.36 * math.sin(a)
        pen.oval(u - 0.075, v - 0.075, u + 0.075, v + 0.075)
        pen.oval(u - 0.04, v - 0.045, u - 0.005, v - 0.01, fill=pen.light)


def diya(pen: Pen) -> None:
    pen.draw.polygon(
        [pen.p(0.5, 0.14), pen.p(0.57, 0.32), pen.p(0.5, 0.42), pen.p(0.43, 0.32)], fill=FLAME
    )
    pen.draw.chord(pen.box(0.06, 0.2, 0.94, 0.92), 0, 180, fill=pen.fill, outline=pen.dark,
                   width=pen.line)  # fmt: skip
    pen.poly([(0.8, 0.56), (0.98, 0.48), (0.9, 0.66)])
    pen.rect(0.36, 0.86, 0.64, 0.96, radius=0.02)


def lamp(pen: Pen) -> None:
    pen.rect(0.46, 0.42, 0.54, 0.88, fill=pen.dark)
    pen.oval(0.26, 0.84, 0.74, 0.96)
    pen.poly([(0.3, 0.04), (0.7, 0.04), (0.88, 0.46), (0.12, 0.46)])


def bottle(pen: Pen) -> None:
    pen.rect(0.28, 0.34, 0.72, 0.96, radius=0.06)
    pen.poly([(0.28, 0.42), (0.4, 0.24), (0.6, 0.24), (0.72, 0.42)])
    pen.rect(0.4, 0.12, 0.6, 0.3)
    pen.rect(0.38, 0.03, 0.62, 0.14, radius=0.02, fill=pen.dark)
    pen.rect(0.34, 0.5, 0.39, 0.86, radius=0.02, fill=pen.light)


def shoe(pen: Pen) -> None:
    pen.poly([(0.06, 0.5), (0.2, 0.42), (0.42, 0.44), (0.62, 0.58), (0.92, 0.66),
              (0.96, 0.8), (0.06, 0.8)])  # fmt: skip
    pen.rect(0.04, 0.78, 0.98, 0.9, radius=0.04, fill=pen.dark)
    pen.stroke([(0.42, 0.5), (0.5, 0.6)], 0.015, fill=pen.light)
    pen.stroke([(0.5, 0.54), (0.58, 0.64)], 0.015, fill=pen.light)


def box(pen: Pen) -> None:
    pen.rect(0.12, 0.3, 0.88, 0.96, radius=0.02)
    pen.rect(0.06, 0.18, 0.94, 0.34, radius=0.02, fill=pen.shade)
    pen.rect(0.45, 0.18, 0.55, 0.96, fill=pen.dark)
    pen.ring(0.3, 0.04, 0.5, 0.2, 0.03, fill=pen.dark)
    pen.ring(0.5, 0.04, 0.7, 0.2, 0.03, fill=pen.dark)


DRAWINGS: dict[str, Callable[[Pen], None]] = {
    "mug": mug,
    "tote": tote,
    "handbag": handbag,
    "wallet": wallet,
    "candle": candle,
    "shirt": shirt,
    "dress": dress,
    "spoons": spoons,
    "basket": basket,
    "earrings": earrings,
    "notebook": notebook,
    "scarf": scarf,
    "planter": planter,
    "vase": vase,
    "bracelet": bracelet,
    "diya": diya,
    "lamp": lamp,
    "bottle": bottle,
    "shoe": shoe,
    "box": box,
}
