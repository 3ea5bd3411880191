"""The Gemini fallback's row of ``benchmarks/extract.py --gemini``: our extractor, then
Gemini on the pages it found no confident product on (as the storefront source does).

Needs ``GEMINI_API_KEY`` (and ``GEMINI_BASE_URL`` for another endpoint) and Redis for
the reading cache and the rate limit (``REDIS_URL``, else the data directory's own
server); ``GEMINI_MODEL``, ``GEMINI_EXTRACT_MAX_CHARS`` and ``GEMINI_REQUESTS_PER_MINUTE``
apply. A second run answers from the cache: clear ``ns:extract:gemini:*`` to pay again.
Reported apart from ours, never mixed into the goal's numbers.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

from pipeline.errors import CatalogSyncError
from pipeline.runtime import Runtime
from pipeline.settings import load_settings
from pipeline.sources.gemini_reader import GeminiPageReader, build_page_reader
from pipeline.sources.html_doc import parse_page
from pipeline.sources.page_product import product_of
from pipeline.sources.storefront_extract import extract_from


async def _predict(reader: GeminiPageReader, html: str, url: str) -> dict[str, Any]:
    page = parse_page(html)
    found = extract_from(page, url)
    try:
        found = await reader.complete(found, page, url)
    except CatalogSyncError as exc:  # an outage on one page is that page's miss
        return {"found": False, "error": str(exc)[:200]}
    product = product_of(found, url)
    if product is None:
        return {"found": False}
    row: dict[str, Any] = {
        "found": True,
        "price": None if product.price is None else str(product.price),
        "sku": product.sku,
        "availability": product.availability,
        "evidence": product.evidence,
    }
    return {k: v for k, v in row.items() if v is not None}


def run_with_gemini(
    pages_dir: Path, truth: dict[str, dict[str, Any]], decode: Any
) -> tuple[dict[str, Any], float, dict[str, int]]:
    """(predictions, wall seconds, {"calls", "cache_hits"}). Raises ConfigError without a key."""
    settings = load_settings()
    settings = settings.with_overrides(gemini={"extract": True})
    with Runtime(settings) as runtime:
        reader = build_page_reader(settings, runtime.redis)
        if reader is None:
            from pipeline.errors import ConfigError

            raise ConfigError("--gemini needs GEMINI_API_KEY")

        async def main() -> dict[str, Any]:
            try:
                out = {}
                for key in truth:
                    html = decode(
                        gzip.decompress((pages_dir / "html" / f"{key}.html.gz").read_bytes())
                    )
                    out[key] = await _predict(reader, html, truth[key].get("url") or "")
                return out
            finally:
                await reader.aclose()

        started = time.monotonic()
        predictions = asyncio.run(main())
        seconds = time.monotonic() - started
    return predictions, seconds, {"calls": reader.calls, "cache_hits": reader.hits}
