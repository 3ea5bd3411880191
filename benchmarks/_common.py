"""Helpers shared by the pipeline benchmarks: private services, tables, JSON, quantiles,
generated sellers and a PNG line plot (Pillow; matplotlib is not a dependency)."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.sample_site.catalog import SampleProduct, SampleSeller  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

WORDS = (
    "red blue green black white linen cotton silk leather wooden brass ceramic glass "
    "mug lamp scarf shirt dress bag wallet belt shoe sandal hat vase bowl plate cup "
    "chair table shelf rug pillow blanket candle soap jar basket necklace ring bracelet "
    "earring watch phone case charger cable speaker toy puzzle book pen notebook kite"
).split()


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def write_json(name: str, data: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    print(f"\nwrote {path}")
    return path


def generated_seller(phone: str, count: int) -> SampleSeller:
    """A seller of ``count`` plain goods with names from a small vocabulary."""
    products = []
    for i in range(count):
        d = hashlib.sha256(f"{phone}:{i}".encode()).digest()
        name = f"{WORDS[d[0] % 13].capitalize()} {WORDS[13 + d[1] % 40]} {d.hex()[:4]}"
        products.append(
            SampleProduct(
                retailer_id=f"p{i:05d}",
                name=name,
                description=f"{name}, made by seller {phone}.",
                price=Decimal(5 + d[2] % 90),
                currency="USD",
            )
        )
    return SampleSeller(phone, f"Seller {phone}", "USD", products)


def line_plot(path: Path, series: dict[str, list[tuple[float, float]]], title: str) -> None:
    """A small PNG line chart of each series (x: seconds, y: value), one colour each."""
    from PIL import Image, ImageDraw

    width, height, pad = 900, 420, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [p for s in series.values() for p in s]
    if not points:
        image.save(path)
        return
    max_x = max(p[0] for p in points) or 1.0
    max_y = max(p[1] for p in points) or 1.0
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    draw.text((pad, 15), f"{title} (x: 0-{max_x:.0f} s, y: 0-{max_y:,.0f})", fill="black")
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    for n, (name, data) in enumerate(series.items()):
        colour = colours[n % len(colours)]
        xy = [
            (
                pad + (x / max_x) * (width - 2 * pad),
                height - pad - (y / max_y) * (height - 2 * pad),
            )
            for x, y in data
        ]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        draw.text((width - pad - 220, pad + 5 + 14 * n), name, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
