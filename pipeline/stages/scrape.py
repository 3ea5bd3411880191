"""``sync-seller`` and ``scrape-catalog``: read the catalog, diff it, fan out the changes.

A sync job's own work is to queue one scrape; it then stays active until every job of
the sync has ended (the ledger completes it). The scrape diffs the catalog against what
we hold by content hash: new or changed products get one ``generate-embedding`` job each,
unchanged ones cost nothing, and products gone from the catalog are deleted from the
vector store, the keyword index and the product store.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Protocol

from pipeline.keyword.base import KeywordIndex
from pipeline.ledger import ClaimedJob
from pipeline.ledger.payloads import ScrapeCatalogPayload, SyncSellerPayload
from pipeline.products import RedisProductStore
from pipeline.records import JobType
from pipeline.sellers import RedisSellerDirectory
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.stages.base import Outcome, child_spec, embed_key, scrape_key, sync_id_of
from pipeline.vectors.base import VectorStore

logger = logging.getLogger(__name__)

MAX_SKIPPED_IN_RESULT = 200
WHATSAPP_CATALOG = re.compile(r"/c/\+?([1-9][0-9]{6,14})(?:[/?#]|$)")  # wa.me/c/<number>


class Scraper(Protocol):
    """Reads a catalog (in-process, or on a Ray actor that owns a browser pool)."""

    async def scrape(self, url: str, seller_id: str, source: str) -> ScrapeResult: ...


class SyncSellerHandler:
    job_type = JobType.SYNC_SELLER
    batch_size = 1

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        outcomes = []
        for job in jobs:
            payload = SyncSellerPayload.model_validate(job.payload)
            scrape = ScrapeCatalogPayload(
                seller_id=payload.seller_id, catalog_url=payload.catalog_url, source=payload.source
            )
            spec = child_spec(
                job, JobType.SCRAPE_CATALOG, scrape.model_dump(), scrape_key(job.job_id)
            )
            outcomes.append(Outcome(job, {"queued": "scrape-catalog"}, follow_up=[spec]))
        return outcomes


class ScrapeHandler:
    job_type = JobType.SCRAPE_CATALOG
    batch_size = 1

    def __init__(
        self,
        scraper: Scraper,
        products: RedisProductStore,
        vectors: VectorStore,
        keywords: KeywordIndex,
        sellers: RedisSellerDirectory | None = None,
    ) -> None:
        self._scraper = scraper
        self._products = products
        self._vectors = vectors
        self._keywords = keywords
        self._sellers = sellers

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        return [await self._one(job) for job in jobs]

    async def _one(self, job: ClaimedJob) -> Outcome:
        payload = ScrapeCatalogPayload.model_validate(job.payload)
        try:
            scraped = await self._scraper.scrape(
                payload.catalog_url, payload.seller_id, payload.source
            )
        except Exception as exc:  # the dispatcher classifies it (retry or dead letter)
            return Outcome(job, error=exc)
        if self._sellers is not None:
            await asyncio.to_thread(self._fill_seller, payload.seller_id, scraped)
        diff = await asyncio.to_thread(self._products.diff, payload.seller_id, scraped.products)
        if diff.removed:
            await asyncio.to_thread(self._remove, payload.seller_id, diff.removed)
        await asyncio.to_thread(self._products.put_many, diff.changed)
        sync_id = sync_id_of(job)
        follow_up = [
            child_spec(
                job,
                JobType.GENERATE_EMBEDDING,
                {"product": product.model_dump(mode="json")},
                embed_key(sync_id, product.product_id, product.content_hash),
            )
            for product in diff.changed
        ]
        skipped = [s.model_dump() for s in scraped.skipped[:MAX_SKIPPED_IN_RESULT]]
        for item in scraped.skipped:
            logger.info(
                "seller %s: skipped %s: %s", item.seller_id, item.source_url[:200], item.reason
            )
        result = {
            "found": len(scraped.products),
            "changed": len(diff.changed),
            "unchanged": len(diff.unchanged),
            "removed": len(diff.removed),
            "skipped": len(scraped.skipped),
            "skipped_products": skipped,
        }
        logger.info(
            "scraped seller %s: %s",
            payload.seller_id,
            {k: v for k, v in result.items() if k != "skipped_products"},
        )
        return Outcome(job, result, follow_up=follow_up)

    def _fill_seller(self, seller_id: str, scraped: ScrapeResult) -> None:
        """The seller's name and contact as the catalog gives them (never over what an
        operator set): a WhatsApp catalog's number is the seller's chat."""
        assert self._sellers is not None
        number = None
        if scraped.source is SourceKind.WHATSAPP:
            found = WHATSAPP_CATALOG.search(scraped.url)
            number = found.group(1) if found else None
        written = self._sellers.fill_from_source(
            seller_id, display_name=scraped.seller_name, whatsapp=number, shop_url=scraped.shop_url
        )
        if written:
            logger.info("seller %s: profile filled from its catalog: %s", seller_id, written)

    def _remove(self, seller_id: str, product_ids: list[str]) -> None:
        """Delete everywhere; the product store last, so a crash here is redone next sync."""
        self._vectors.delete(product_ids)
        self._keywords.delete(product_ids)
        self._products.remove(seller_id, product_ids)
