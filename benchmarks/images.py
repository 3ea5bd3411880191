"""The image rules and the image store: what one decode and one stored image cost.

1. Decode per format (pipeline.images.decode_rgb): the scrape's full check, and the
   embedder's decode + resize to 224 (JPEG at reduced scale), on a 1600x1200 photo-like
   picture in each accepted format.
2. The directory image store: put (temp file, fsync, rename) and get (read + SHA-256
   check) per image, and the same put again (already stored: a stat).

    .venv/bin/python benchmarks/images.py            # --quick for fewer repetitions

Prints tables and writes benchmarks/results/images.json.
"""

from __future__ import annotations

import argparse
import functools
import io
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_json  # noqa: E402
from pipeline.blobs.directory import DirectoryBlobStore  # noqa: E402
from pipeline.embedding.images import PreprocessSpec, decode_image  # noqa: E402
from pipeline.images import ACCEPTED_FORMATS, ImageLimits, check_image  # noqa: E402

LIMITS = ImageLimits()


def photo(width: int = 1600, height: int = 1200) -> Image.Image:
    """Smooth gradients plus noise: compresses like a product photo, not like a flat fill."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    noisy = base + rng.normal(0, 12, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "GIF":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(buf, "GIF")
    elif fmt == "MPO":
        image.save(buf, "MPO", save_all=True, append_images=[image], quality=85)
    else:
        image.save(buf, fmt, **({"quality": 85} if fmt in ("JPEG", "WEBP", "AVIF") else {}))
    return buf.getvalue()


def timed_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def decode_rows(repeat: int) -> list[dict[str, Any]]:
    image, spec = photo(), PreprocessSpec()
    rows = []
    for fmt in ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "AVIF"):
        if fmt not in ACCEPTED_FORMATS:
            continue
        data = encode(image, fmt)
        rows.append(
            {
                "format": fmt,
                "kB": round(len(data) / 1024),
                "check_ms": timed_ms(functools.partial(check_image, data, LIMITS), repeat),
                "embed_decode_ms": timed_ms(
                    functools.partial(decode_image, data, spec, LIMITS), repeat
                ),
            }
        )
    return rows


def store_rows(count: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    blobs = [rng.bytes(200 * 1024) for _ in range(count)]  # ~ a product photo each
    with tempfile.TemporaryDirectory() as tmp:
        store = DirectoryBlobStore(Path(tmp) / "images")
        rows = []
        digests: list[str] = []
        for label, op in (
            ("put (new)", lambda i: digests.append(store.put(blobs[i]))),
            ("put (already stored)", lambda i: store.put(blobs[i])),
            ("get (read + sha256 check)", lambda i: store.get(digests[i])),
        ):
            started = time.perf_counter()
            for i in range(count):
                op(i)
            elapsed = time.perf_counter() - started
            rows.append(
                {
                    "operation": label,
                    "images": count,
                    "ms_per_image": elapsed * 1000 / count,
                    "MB_per_s": count * 200 / 1024 / elapsed,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat, count = (3, 50) if args.quick else (10, 300)
    decode = decode_rows(repeat)
    print_table(
        "decode_rgb on a 1600x1200 photo (median ms, one core)",
        ["format", "size kB", "scrape check ms", "embed decode+resize ms"],
        [[r["format"], r["kB"], r["check_ms"], r["embed_decode_ms"]] for r in decode],
    )
    store = store_rows(count)
    print_table(
        "directory image store, 200 kB images",
        ["operation", "images", "ms/image", "MB/s"],
        [[r["operation"], r["images"], r["ms_per_image"], r["MB_per_s"]] for r in store],
    )
    write_json(
        "images",
        {"machine": platform.platform(), "python": platform.python_version(),
         "decode": decode, "store": store},
    )  # fmt: skip


if __name__ == "__main__":
    main()
