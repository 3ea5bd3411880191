"""Product thumbnails through our own route: made from the checked bytes, then cached.

The page never points a shopper's browser at a seller's host (that would leak shoppers'
addresses to sellers and let a seller swap the picture after review). Instead the API
reads the product's image from the image store, the very bytes the scrape checked and
QC judged (:mod:`pipeline.stored_images`; a record without stored images falls back to one
download through the SSRF-safe fetcher), shrinks and re-encodes it
(:mod:`serve.web.imaging`) and caches the result twice: in this process (an LRU bounded
in bytes) and in Redis with a TTL, so every API replica shares one fetch per image. The
cache key holds the product's content hash, so a changed product gets new thumbnails.
Failures that will not heal (a refused host, a corrupt image) are remembered for a few
minutes, so a broken product cannot make us hammer its host on every page view.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, replace

import redis.asyncio as aredis

from pipeline.blobs.base import BlobStore
from pipeline.errors import PermanentError, RetryableError, UnsafeURLError
from pipeline.fetch import HttpStatusError, SafeFetcher
from pipeline.images import ImageLimits
from pipeline.products import RedisProductStore
from pipeline.records import ProductRecord
from pipeline.redis_keys import RedisKeys
from pipeline.settings import CatalogSettings
from pipeline.stored_images import StoredImages
from serve.web.imaging import ThumbFormat, make_thumbnail

logger = logging.getLogger(__name__)

MAX_IMAGES = 10  # image index 0..9: a WhatsApp product shows at most ten photos


class ThumbnailError(Exception):
    """Why there is no thumbnail, as an HTTP status and a message for the shopper."""

    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    fmt: ThumbFormat
    etag: str
    source: str  # where this answer came from: memory, redis or origin (made just now)


class _ByteLRU:
    """Least recently used thumbnails, at most ``max_bytes`` of them in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Thumbnail] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Thumbnail | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, item: Thumbnail) -> None:
        if len(item.data) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)
        self._items[key] = item
        self._bytes += len(item.data)
        while self._bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped.data)


class CachedThumbnailService:
    """Thumbnails of live products, made from ``images`` (the image store). One per event
    loop (it owns a SafeFetcher for records without stored images); close it with
    :meth:`aclose` (``images`` stays open: its owner closes it)."""

    def __init__(
        self,
        *,
        products: RedisProductStore,
        cache: aredis.Redis | None,
        catalog: CatalogSettings,
        images: BlobStore,
        ttl_s: int = 24 * 3600,
        failure_ttl_s: int = 300,
        memory_bytes: int = 32 * 1024 * 1024,
        keys: RedisKeys,
    ) -> None:
        self._products = products
        self._cache = cache
        self._catalog = catalog
        self._fetcher = SafeFetcher(catalog, images=images)
        self._images = StoredImages(images, self._fetcher)
        self._ttl = ttl_s
        self._failure_ttl = failure_ttl_s
        self._memory = _ByteLRU(memory_bytes)
        self._keys = keys
        # One fetch per thumbnail however many requests ask for it at once (a results
        # page asks for a dozen at the same moment, and two shoppers may see the same).
        self._inflight: dict[str, asyncio.Task[Thumbnail]] = {}

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    async def get(self, product_id: str, size: int, fmt: ThumbFormat, index: int = 0) -> Thumbnail:
        """The thumbnail of a live product's ``index``-th image.

        Raises ThumbnailError: 404 when there is no such live product or image or the
        seller's host says it is gone, 403 when the image's host is not one we may fetch
        from, 422 when the image does not decode or breaks the size limits, 502 (with a
        retry delay) when the seller's host is unreachable or failing.
        """
        item = await asyncio.to_thread(self._products.get, product_id)
        if item is None or not item.live:
            raise ThumbnailError(404, f"no live product {product_id}")
        urls = item.record.image_urls
        if not 0 <= index < min(len(urls), MAX_IMAGES):
            raise ThumbnailError(404, f"product {product_id} has no image {index}")
        material = f"{product_id}\n{item.record.content_hash}\n{index}\n{size}\n{fmt.value}"
        key = hashlib.sha256(material.encode()).hexdigest()[:32]
        found = self._memory.get(key)
        if found is not None:
            return found
        task = self._inflight.get(key)
        if task is None:
            # A task of its own, so a shopper who goes away does not cancel the fetch
            # others are waiting for.
            task = asyncio.ensure_future(self._load(key, item.record, index, size, fmt))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        thumb = await asyncio.shield(task)
        self._memory.put(key, replace(thumb, source="memory"))
        return thumb

    def _settled(self, key: str, task: asyncio.Task[Thumbnail]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: waiters that went away must not leave it unread

    async def _load(
        self, key: str, record: ProductRecord, index: int, size: int, fmt: ThumbFormat
    ) -> Thumbnail:
        if self._cache is not None:
            data, failure = await self._cache.mget(self._key(key), self._failure_key(key))
            if data is not None:
                return Thumbnail(bytes(data), fmt, key, "redis")
            if failure is not None:
                status, detail = json.loads(failure)
                raise ThumbnailError(int(status), str(detail))
        try:
            thumb = await self._make(key, record, index, size, fmt)
        except ThumbnailError as exc:
            if exc.status in (403, 404, 422) and self._cache is not None:
                value = json.dumps([exc.status, exc.detail])
                await self._cache.set(self._failure_key(key), value, ex=self._failure_ttl)
            raise
        if self._cache is not None:
            await self._cache.set(self._key(key), thumb.data, ex=self._ttl)
        return thumb

    async def _make(
        self, key: str, record: ProductRecord, index: int, size: int, fmt: ThumbFormat
    ) -> Thumbnail:
        try:
            original = await self._images.read(record, index)
            data = await asyncio.to_thread(
                make_thumbnail, original, size, fmt, ImageLimits.from_settings(self._catalog)
            )
        except UnsafeURLError as exc:
            logger.info("thumbnail %s refused: %s", key, exc)
            raise ThumbnailError(
                403, "the product's image was refused: its host is not allowed or it is too big"
            ) from exc
        except HttpStatusError as exc:
            logger.info("thumbnail %s: the seller's host answered %s", key, exc.status)
            raise ThumbnailError(404, "the product's image is gone from the seller's site") from exc
        except PermanentError as exc:
            logger.info("thumbnail %s unusable: %s", key, exc)
            raise ThumbnailError(422, "the product's image is not a usable picture") from exc
        except RetryableError as exc:
            logger.warning("thumbnail %s: seller's host failing: %s", key, exc)
            raise ThumbnailError(
                502, "the seller's image host is not answering", exc.delay or 30.0
            ) from exc
        logger.debug("thumbnail %s made: %s bytes from %s", key, len(data), len(original))
        return Thumbnail(data, fmt, key, "origin")

    def _key(self, key: str) -> str:
        return self._keys.thumbnail(key)

    def _failure_key(self, key: str) -> str:
        return self._keys.thumbnail_failure(key)
