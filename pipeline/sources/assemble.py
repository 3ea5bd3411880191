"""The common tail of every source: raw products to records, images checked and hashed.

With ``CATALOG_VERIFY_IMAGES`` (the default) each image is downloaded once through the
SafeFetcher, which checks it and keeps it in the image store: broken ones (404, corrupt,
too large, refused) are dropped with a logged reason, a product left with no image is
skipped with the reasons, and each surviving image's SHA-256 goes into the record
(``image_hashes``: the later stages read those bytes, never the seller's host) and into
the content hash, so a photo replaced under the same URL is checked and embedded again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable

from pipeline.errors import CatalogSyncError, PermanentError
from pipeline.fetch import SafeFetcher
from pipeline.records import ProductRecord, SkippedProduct
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.normalize import RawProduct, to_record

logger = logging.getLogger(__name__)


Digest = tuple[str | None, str | None]


def over_the_limit(
    seller_id: str, source_url: str, left_out: int, limit: int, what: str, fate: str
) -> SkippedProduct:
    """One skipped entry for everything past ``CATALOG_MAX_PRODUCTS``: never a silent drop.
    ``what`` names the items left out, ``fate`` says what became of them."""
    return SkippedProduct(
        seller_id=seller_id,
        source_url=source_url[:4096],
        raw_name=f"{left_out} more {what}",
        reason=f"over CATALOG_MAX_PRODUCTS ({limit}): {left_out} {fate}",
    )


class ImagePrefetch:
    """Image checks started early (while a source is still reading its pages), so they
    overlap with the slow part; :func:`assemble` picks up what was started here."""

    def __init__(self, fetcher: SafeFetcher | None) -> None:
        self.fetcher = fetcher
        self.tasks: dict[str, asyncio.Task[Digest]] = {}

    def start(self, urls: Iterable[str]) -> None:
        if self.fetcher is None:
            return
        for url in urls:
            if url not in self.tasks and len(self.tasks) < 100_000:
                self.tasks[url] = asyncio.ensure_future(_image_digest(self.fetcher, url))

    def cancel(self) -> None:
        for task in self.tasks.values():
            task.cancel()


async def _image_digest(fetcher: SafeFetcher, url: str) -> Digest:
    """(sha256, None) for a usable image; (None, reason) for one that is not."""
    try:
        data = await fetcher.fetch_image(url)
    except CatalogSyncError as exc:
        return None, str(exc)
    return hashlib.sha256(data).hexdigest(), None


async def _verify(
    record: ProductRecord, fetcher: SafeFetcher, gate: asyncio.Semaphore, prefetch: ImagePrefetch
) -> ProductRecord | SkippedProduct:
    async with gate:
        results = []
        for url in record.image_urls:
            # One download per URL per scrape, however many products show the image.
            prefetch.start([url])
            task = prefetch.tasks.get(url)
            results.append(await task if task else await _image_digest(fetcher, url))
    good = [
        (url, digest) for url, (digest, _) in zip(record.image_urls, results, strict=True) if digest
    ]
    reasons = [reason for _, reason in results if reason]
    for reason in reasons:
        logger.info("product %s: dropped image: %s", record.product_id, reason)
    if not good:
        why = "; ".join(reasons) if reasons else "product has no image"
        return SkippedProduct(
            seller_id=record.seller_id,
            source_url=record.source_url,
            raw_name=record.name,
            reason=f"no usable image: {why}"[:1000],
        )
    combined = hashlib.sha256("".join(d for _, d in good).encode()).hexdigest()
    updated = record.model_copy(
        update={
            "image_urls": tuple(url for url, _ in good),
            "image_hashes": tuple(digest for _, digest in good),
            "image_sha256": combined,
        }
    )
    return updated.model_copy(update={"content_hash": updated.compute_content_hash()})


async def assemble(
    raws: Iterable[RawProduct],
    *,
    seller_id: str,
    source_url: str,
    kind: SourceKind,
    fetcher: SafeFetcher | None,
    skipped: Iterable[SkippedProduct] = (),
    max_products: int | None = None,
    prefetch: ImagePrefetch | None = None,
) -> ScrapeResult:
    """Records for ``raws`` (duplicates by product id keep the first), images verified when
    a fetcher is given. Raises PermanentError when the catalog has no product at all."""
    result = ScrapeResult(skipped=list(skipped), source=kind, url=source_url)
    records: list[ProductRecord] = []
    seen: set[str] = set()
    raws = list(raws)
    for n, raw in enumerate(raws):
        made = to_record(raw, seller_id, source_url)
        if isinstance(made, SkippedProduct):
            result.skipped.append(made)
        elif made.product_id in seen:
            result.skipped.append(
                SkippedProduct(
                    seller_id=made.seller_id,
                    source_url=made.source_url,
                    raw_name=made.name,
                    reason="duplicate of an earlier product",
                )
            )
        else:
            seen.add(made.product_id)
            records.append(made)
        if max_products is not None and len(records) >= max_products:
            logger.warning(
                "%s: stopped at %d products (CATALOG_MAX_PRODUCTS)", source_url, max_products
            )
            if n + 1 < len(raws):
                left_out = len(raws) - n - 1
                result.skipped.append(
                    over_the_limit(
                        seller_id,
                        source_url,
                        left_out,
                        max_products,
                        "products",
                        "more products were not imported",
                    )
                )
            break
    if fetcher is not None:
        gate = asyncio.Semaphore(fetcher.catalog.per_host_concurrency * 2)
        started = prefetch or ImagePrefetch(fetcher)
        try:
            verified = await asyncio.gather(*(_verify(r, fetcher, gate, started) for r in records))
        finally:
            started.cancel()  # images of products that did not make it into a record
        records = []
        for item in verified:
            if isinstance(item, SkippedProduct):
                result.skipped.append(item)
            else:
                records.append(item)
    result.products = records
    if not result.products and not result.skipped:
        raise PermanentError(f"no products found at {source_url[:200]}")
    return result
