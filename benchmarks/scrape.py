"""Scrape throughput: products per minute from the sample site at 1, 4 and 8 browser pages.

Scrapes the bulk seller (N products, default 200) of an in-process sample site through the
WhatsApp source (list with infinite scroll, one detail page per product, every image
downloaded and decoded once), in one shared browser, and samples the browser processes'
memory (RSS summed over Chromium's processes) while it runs. The seed did 10-20/min.

    .venv/bin/python benchmarks/scrape.py            # 200 products at 1, 4, 8 pages
    .venv/bin/python benchmarks/scrape.py --quick    # 40 products at 1 and 4 pages

Prints a table and writes benchmarks/results/scrape.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from pipeline.fetch import SafeFetcher
from pipeline.sample_site import SampleSite
from pipeline.settings import Settings
from pipeline.sources.browser import BrowserPool
from pipeline.sources.whatsapp import PlaywrightCatalogSource

RESULTS = Path(__file__).parent / "results"
BULK_PHONE = "10000000000"


class MemorySampler:
    """Peak memory of this process's Chromium descendants, sampled every 250 ms: summed PSS
    (shared pages split between the processes sharing them), so the sum is not inflated by
    the libraries every Chromium process maps."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for child in psutil.Process().children(recursive=True):
            try:
                if "chrom" in child.name().lower():
                    total += child.memory_full_info().pss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def run(products: int, pages: list[int], rate: float) -> list[dict[str, Any]]:
    rows = []
    with SampleSite(bulk_products=products) as site:
        for count in pages:
            catalog = (
                Settings()
                .with_overrides(
                    catalog={
                        "allowed_hosts": ("127.0.0.1",),
                        "page_concurrency": count,
                        "per_host_concurrency": max(4, count),
                        "per_host_rate": rate,
                    }
                )
                .catalog
            )
            with MemorySampler() as memory:
                started = time.monotonic()
                fetcher = SafeFetcher(catalog)
                # One per-host budget for the browser and the image downloads, as in production.
                pool = BrowserPool(catalog, guard=fetcher.guard, limiter=fetcher.limiter)
                async with fetcher, pool:
                    launch_s = time.monotonic() - started
                    source = PlaywrightCatalogSource(catalog, pool, fetcher)
                    t0 = time.monotonic()
                    result = await source.scrape(f"{site.base_url}/c/{BULK_PHONE}", "bulk")
                    scrape_s = time.monotonic() - t0
            got = len(result.products)
            rows.append(
                {
                    "pages": count,
                    "products": got,
                    "skipped": len(result.skipped),
                    "browser_start_s": round(launch_s, 2),
                    "scrape_s": round(scrape_s, 2),
                    "products_per_min": round(got / scrape_s * 60, 1),
                    "peak_browser_pss_mb": round(memory.peak / 2**20, 1),
                }
            )
            print(f"  {count} pages: {got} products in {scrape_s:.1f}s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 products at 1 and 4 pages")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--pages", default="1,4,8")
    parser.add_argument(
        "--rate",
        type=float,
        default=Settings().catalog.per_host_rate,
        help="per-host requests/s (default: the CATALOG_PER_HOST_RATE default)",
    )
    args = parser.parse_args()
    products = 40 if args.quick else args.products
    pages = [1, 4] if args.quick else [int(p) for p in args.pages.split(",")]
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    rows = asyncio.run(run(products, pages, args.rate))
    base = rows[0]["products_per_min"]
    print()
    print(
        f"{'pages':>5} {'products':>8} {'scrape s':>9} {'products/min':>13} {'vs 1 page':>9} "
        f"{'peak browser MB (PSS)':>22}"
    )
    for row in rows:
        print(
            f"{row['pages']:>5} {row['products']:>8} {row['scrape_s']:>9} "
            f"{row['products_per_min']:>13} {row['products_per_min'] / base:>8.2f}x "
            f"{row['peak_browser_pss_mb']:>22}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "scrape",
        "products": products,
        "per_host_rate": args.rate,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "note": "sample site in-process on loopback; WhatsApp source; images verified",
        "load_average_after": os.getloadavg(),
        "rows": rows,
    }
    (RESULTS / "scrape.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'scrape.json'}")


if __name__ == "__main__":
    main()
