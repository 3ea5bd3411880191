"""A product's image bytes for embed, QC and thumbnails: the stored bytes, by hash.

The scrape downloaded and checked each image once and kept it in the image store under
its SHA-256 (``ProductRecord.image_hashes``). Later stages read those bytes and never ask
the seller's host again: the host sees one download per image per sync, and a seller who
swaps the photo behind a URL after QC changes nothing that is embedded, checked or shown
until the next sync checks the new bytes.

Two fallbacks download, once, through the process's one SafeFetcher (which checks and
stores what it gets):

- a record without hashes (stored before the image store existed, or scraped with
  ``CATALOG_VERIFY_IMAGES=false``);
- a hash the store does not hold (a ``dir`` store on another machine, a wiped store). The
  download must hash to the recorded hash, or the product fails with the reason: bytes
  that were never checked are never used.
"""

from __future__ import annotations

import asyncio
import logging

from pipeline.blobs.base import BlobNotFound, BlobStore, sha256_hex
from pipeline.errors import PermanentError
from pipeline.fetch.fetcher import SafeFetcher
from pipeline.records import ProductRecord

logger = logging.getLogger(__name__)


class StoredImages:
    """Reads products' images from ``store``; ``fetcher`` (with ``store`` as its image
    store) for the fallbacks, or None to refuse them."""

    def __init__(self, store: BlobStore, fetcher: SafeFetcher | None) -> None:
        self.store = store
        self._fetcher = fetcher

    async def read(self, record: ProductRecord, index: int = 0) -> bytes:
        """The bytes of the product's ``index``-th image.

        Raises IndexError when it has no such image; PermanentError when the image cannot
        be had as it was checked (the seller's host now serves other bytes, or there is no
        fetcher for a fallback); otherwise what :meth:`SafeFetcher.fetch_image` raises.
        """
        url = record.image_urls[index]
        digest = record.image_hashes[index] if record.image_hashes else None
        if digest is not None:
            try:
                return await asyncio.to_thread(self.store.get, digest)
            except BlobNotFound as exc:
                logger.warning("image %s of %s not in the store (%s): downloading it",
                               digest[:12], record.product_id, exc)  # fmt: skip
        if self._fetcher is None:
            raise PermanentError(f"image {url[:200]} is not in the image store")
        data = await self._fetcher.fetch_image(url)
        if digest is not None and sha256_hex(data) != digest:
            raise PermanentError(
                f"image {url[:200]} changed since it was checked (sha256 {digest[:12]}... "
                f"then, {sha256_hex(data)[:12]}... now): the next sync checks the new one"
            )
        return data
