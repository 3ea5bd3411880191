"""What an oversized request body costs the API: bytes it took before answering, time to
the answer, and the server's RSS growth, for a 300 MB body sent as
``Transfer-Encoding: Chunked`` to a JSON route and as a chunked multipart upload.

The API runs in this process (uvicorn on loopback, the tiny model, a private
redis-server), so its RSS is this process's.

    PYTHONPATH=. .venv/bin/python benchmarks/hostile_bodies.py
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks._common import print_table, write_json
from pipeline.local.redis import local_redis
from pipeline.settings import Settings
from tests.reliability.edge import edge_settings, send_slowly, serve_api

TOTAL = 300 * 1024 * 1024
CHUNK = 256 * 1024


def _chunks(preamble: bytes = b"") -> Iterator[bytes]:
    if preamble:
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
    piece = b"%x\r\n%s\r\n" % (CHUNK, b"[" * CHUNK)
    for _ in range(TOTAL // CHUNK):
        yield piece
    yield b"0\r\n\r\n"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    boundary = "b0undary"
    cases = {
        "JSON route, Chunked": (
            "/v1/sellers/s1/sync",
            "application/json",
            b"",
        ),
        "upload, Chunked multipart": (
            "/v1/search/image",
            f"multipart/form-data; boundary={boundary}",
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                'filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode(),
        ),
    }
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        redis = local_redis(Path(tmp) / "redis")
        port = redis.ensure()
        try:
            settings = edge_settings(
                Settings().with_overrides(
                    core={"data_dir": Path(tmp) / "data"},
                    redis={"url": f"redis://127.0.0.1:{port}/0"},
                    siglip={"model": "tiny"},
                ),
                rate_limit_per_minute=60_000,
            )
            with serve_api(settings) as api:
                for name, (path, ctype, preamble) in cases.items():
                    head = (
                        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                        "Transfer-Encoding: Chunked\r\n\r\n"
                    ).encode()
                    before = _rss_mb()
                    started = time.perf_counter()
                    answer = send_slowly(api.port, head, _chunks(preamble), timeout=120)
                    took = time.perf_counter() - started
                    result = {
                        "case": name,
                        "status": answer.status,
                        "sent_mb": round(answer.sent / 2**20, 2),
                        "seconds": round(took, 3),
                        "peak_rss_growth_mb": round(_rss_mb() - before, 1),
                    }
                    results.append(result)
                    rows.append(list(result.values()))
        finally:
            redis.close()
    print_table(
        "a 300 MB chunked body (sent until the server answers)",
        ["case", "status", "MB sent", "s", "peak RSS growth MB"],
        rows,
    )
    write_json("hostile_bodies", {"total_mb": TOTAL / 2**20, "results": results})


if __name__ == "__main__":
    main()
