"""What one photo upload costs to decode: the old path (the scrape's decode and the
encoder's resize, 40 MP budget) against the upload guard (24 MP budget on the header,
reduced decode, shrink before colour conversion). Each case runs in a fresh process, so
its peak RSS is its own.

    PYTHONPATH=. .venv/bin/python benchmarks/upload_decode.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from typing import Any

from benchmarks._common import print_table, write_json

CASES = {
    "palette PNG 6300x6300": ("P", 6300, 6300, "PNG"),
    "palette PNG 4800x4800": ("P", 4800, 4800, "PNG"),
    "RGBA PNG 4800x4800": ("RGBA", 4800, 4800, "PNG"),
    "JPEG 4000x3000": ("RGB", 4000, 3000, "JPEG"),
}
REPEATS = 3


def _image(mode: str, width: int, height: int, fmt: str) -> bytes:
    from PIL import Image

    image = Image.new(mode, (width, height), 0 if mode == "P" else (200, 40, 40, 255)[: len(mode)])
    if mode == "P":
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (i * 7) % 256)])
        for x in range(0, width, 97):
            image.paste(x % 256, (x, 0, min(x + 40, width), height))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _child(path: str, case: str) -> dict[str, Any]:
    import resource

    from pipeline.embedding.images import PreprocessSpec, decode_image
    from pipeline.errors import PermanentError
    from pipeline.images import ImageLimits
    from serve.upload_images import shrink_upload

    data = _image(*CASES[case])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spec = PreprocessSpec(size=224)
    timings = []
    outcome = "ok"
    for _ in range(REPEATS):
        started = time.perf_counter()
        try:
            if path == "old":
                decode_image(data, spec, ImageLimits(max_bytes=15 << 20, max_pixels=40_000_000))
            else:
                decode_image(shrink_upload(data, 12 << 20), spec, ImageLimits())
        except PermanentError as exc:
            outcome = "413" if "pixels, over" in str(exc) else f"error: {exc}"[:60]
        timings.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "bytes": len(data),
        "ms": round(min(timings) * 1000, 1),
        "peak_mb": round((peak - base) / 1024, 1),
        "outcome": outcome,
    }


def main() -> None:
    rows, results = [], []
    for case in CASES:
        for path in ("old", "upload guard"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", path, case],
                capture_output=True,
                text=True,
                check=True,
            )
            result = {"case": case, "path": path, **json.loads(out.stdout.strip().splitlines()[-1])}
            results.append(result)
            rows.append(
                [case, path, result["bytes"], result["ms"], result["peak_mb"], result["outcome"]]
            )
    print_table(
        "one upload's decode (best of 3; peak RSS growth in a fresh process)",
        ["image", "path", "bytes", "ms", "peak MB", "outcome"],
        rows,
    )
    write_json("upload_decode", {"results": results})


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))  # noqa: T201
    else:
        main()
