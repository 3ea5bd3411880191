"""Thumbnails for the search page: cold (fetch + decode + resize + encode) vs cached.

The service is the production one (CachedThumbnailService: SafeFetcher, Pillow, an
in-process LRU and Redis). Images come from the sample site on loopback (320x320 JPEGs,
so the fetch itself is cheap: on the internet the cold path also pays the seller's
host). Measured per request, one at a time, then a cold burst with 8 in flight.

    .venv/bin/python benchmarks/search_page.py --quick      # 24 products
    .venv/bin/python benchmarks/search_page.py              # 200 products

Prints a table and writes benchmarks/results/search_page.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
import redis.asyncio as aredis  # noqa: E402

from pipeline.blobs import open_blob_store  # noqa: E402
from pipeline.local.redis import local_redis  # noqa: E402
from pipeline.products import ProductStatus, RedisProductStore  # noqa: E402
from pipeline.records import ProductRecord, QCDecision, QCVerdict  # noqa: E402
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
from pipeline.sample_site import SampleSite  # noqa: E402
from pipeline.sample_site.images import product_jpeg  # noqa: E402
from pipeline.sample_site.pages import image_urls  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from serve.web.imaging import ThumbFormat  # noqa: E402
from serve.web.thumbnails import CachedThumbnailService  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BULK_PHONE = "10000000000"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, ms: list[float]) -> dict[str, Any]:
    return {
        "case": name,
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(_pct(ms, 0.99), 3),
        "per_s": round(len(ms) / (sum(ms) / 1000), 1),
    }


async def _timed(service: CachedThumbnailService, ids: list[str], size: int, fmt: ThumbFormat):
    out: list[float] = []
    sizes: list[int] = []
    for pid in ids:
        started = time.perf_counter()
        thumb = await service.get(pid, size, fmt)
        out.append((time.perf_counter() - started) * 1000)
        sizes.append(len(thumb.data))
    return out, sizes


async def _run(settings: Settings, url: str, ids: list[str]) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    products = RedisProductStore(client, RedisKeys(DEFAULT_NAMESPACE))
    cache = aredis.Redis.from_url(url)
    images = open_blob_store(settings)  # its records carry no image hashes: one download each
    rows: list[dict[str, Any]] = []
    sizes: dict[str, int] = {}

    def replica() -> CachedThumbnailService:
        """One API replica's thumbnail service: its own in-process LRU, the shared Redis."""
        return CachedThumbnailService(
            products=products,
            cache=cache,
            catalog=settings.catalog,
            keys=RedisKeys(DEFAULT_NAMESPACE),
            images=images,
        )

    service = replica()
    try:
        cold, cold_sizes = await _timed(service, ids, 320, ThumbFormat.JPEG)
        rows.append(_row("cold: fetch+resize 320 JPEG", cold))
        memory, _ = await _timed(service, ids, 320, ThumbFormat.JPEG)
        rows.append(_row("warm: in-process LRU", memory))
        sizes["thumb_320_jpeg"] = int(statistics.mean(cold_sizes))
        for size, fmt in (
            (160, ThumbFormat.JPEG),
            (160, ThumbFormat.WEBP),
            (320, ThumbFormat.WEBP),
        ):
            _, got = await _timed(service, ids[:10], size, fmt)
            sizes[f"thumb_{size}_{fmt.value}"] = int(statistics.mean(got))
    finally:
        await service.aclose()
    other = replica()
    try:
        from_redis, _ = await _timed(other, ids, 320, ThumbFormat.JPEG)
        rows.append(_row("warm: Redis (another replica)", from_redis))
        started = time.perf_counter()
        sem = asyncio.Semaphore(8)

        async def one(pid: str) -> None:
            async with sem:
                await other.get(pid, 640, ThumbFormat.WEBP)

        await asyncio.gather(*(one(pid) for pid in ids))
        burst_s = time.perf_counter() - started
    finally:
        await other.aclose()
        await cache.aclose()
        client.close()
    sizes["original_jpeg"] = int(statistics.mean(len(product_jpeg(f"{i}")) for i in range(10)))
    rows.append(
        {"case": "cold burst 640 WebP, 8 in flight", "n": len(ids), "p50_ms": None,
         "p99_ms": None, "per_s": round(len(ids) / burst_s, 1)}
    )  # fmt: skip
    return {"rows": rows, "bytes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="24 products instead of 200")
    args = parser.parse_args()
    count = 24 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp, SampleSite(bulk_products=count) as site:
        service = local_redis(Path(tmp) / "redis")
        service.ensure()
        try:
            url = f"redis://127.0.0.1:{service.port}/0"
            settings = Settings().with_overrides(
                core={"data_dir": Path(tmp) / "data"},
                redis={"url": url},
                catalog={"allowed_hosts": (site.netloc,), "per_host_rate": 10_000.0,
                         "per_host_concurrency": 16},
            )  # fmt: skip
            seller = site.catalog.seller(BULK_PHONE)
            assert seller is not None
            store = RedisProductStore(redis.Redis.from_url(url), RedisKeys(DEFAULT_NAMESPACE))
            verdict = QCVerdict(decision=QCDecision.APPROVED, model="bench", policy_version="b")
            ids = []
            for product in seller.products:
                rec = ProductRecord(
                    product_id=ProductRecord.make_id(BULK_PHONE, product.retailer_id),
                    seller_id=BULK_PHONE,
                    retailer_id=product.retailer_id,
                    name=product.name,
                    price=Decimal(product.price),
                    currency=product.currency,
                    image_urls=tuple(image_urls(site.base_url, BULK_PHONE, product)),
                    source_url=site.base_url,
                )
                store.put_many([rec])
                store.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict)
                store.mark_indexed(rec.product_id, rec.content_hash)
                ids.append(rec.product_id)
            result = asyncio.run(_run(settings, url, ids))
        finally:
            service.close()
    print(f"\nthumbnails, {count} products, {os.cpu_count()} CPUs ({platform.processor() or '?'})")
    print(f"{'case':<36} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'per s':>9}")
    for row in result["rows"]:
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.3f}"
        p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.3f}"
        print(f"{row['case']:<36} {row['n']:>5} {p50:>9} {p99:>9} {row['per_s']:>9}")
    cold = result["rows"][0]["p50_ms"]
    for row in result["rows"][1:3]:
        print(f"  cold p50 / {row['case']} p50 = {cold / row['p50_ms']:.0f}x")
    print("mean bytes:", ", ".join(f"{k} {v}" for k, v in result["bytes"].items()))
    out = {"products": count, "cpus": os.cpu_count(), **result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search_page.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'search_page.json'}")


if __name__ == "__main__":
    main()
