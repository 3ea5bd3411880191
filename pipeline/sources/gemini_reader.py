"""The storefront's fallback: a page with no confident product is read by Gemini.

Off unless ``GEMINI_EXTRACT=true`` and ``GEMINI_API_KEY`` are both set. Only a page our
own extractor could not read is sent: one without products or product links, or whose
one product lacks a name or a usable price. Gemini's answers (a product, or "no
product") are cached in Redis by the hash of what it was shown, so a re-sync of an
unchanged page makes no call. The request goes through QC's client
(:class:`pipeline.qc.gemini_client.GeminiClient`): same key, rate limit and error
translation. A retryable failure (429, 5xx, timeout) fails the scrape, so the ledger
retries it and a sync never takes an outage for a removed product; a permanent one (a
bad key) and an answer off the schema leave the page as our extractor read it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from google.genai import types

from pipeline.errors import PermanentError
from pipeline.model_cache import RedisModelCache
from pipeline.qc.gemini_client import GeminiClient, block_reason
from pipeline.redis_keys import RedisKeys
from pipeline.settings import Settings
from pipeline.sources.gemini_page import (
    SYSTEM_PROMPT,
    PageReading,
    content_hash,
    fill,
    image_candidates,
    page_text,
    prompt,
    to_raw,
)
from pipeline.sources.html_doc import Page
from pipeline.sources.normalize import RawProduct, price_of
from pipeline.sources.storefront_extract import Extracted

logger = logging.getLogger(__name__)


class RedisReadingCache:
    """``RedisKeys.page_reading(model, hash)`` -> the answer's JSON, with a TTL
    (``pipeline.model_cache``: a Redis error or an older schema's entry is a miss)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, *, ttl_s: int) -> None:
        self._cache = RedisModelCache(client, PageReading, ttl_s=ttl_s, what="page reading")
        self._keys = keys

    def get(self, model: str, digest: str) -> PageReading | None:
        return self._cache.get(self._keys.page_reading(model, digest))

    def put(self, model: str, digest: str, reading: PageReading) -> None:
        self._cache.put(self._keys.page_reading(model, digest), reading)


def confident(found: Extracted) -> bool:
    """Whether our extractor read the page well enough to leave Gemini out: it found
    product links, several products, or one with a name and a price it trusts."""
    if found.links or len(found.products) > 1:
        return True
    return any(p.name and price_of(p).amount is not None for p in found.products)


class GeminiPageReader:
    """Reads pages :func:`confident` rejects; counts its calls and cache hits."""

    def __init__(
        self, client: GeminiClient, cache: RedisReadingCache | None, *, max_chars: int
    ) -> None:
        self._client = client
        self._cache = cache
        self._max_chars = max_chars
        self.calls = 0
        self.hits = 0

    async def complete(self, found: Extracted, page: Page, url: str) -> Extracted:
        """``found`` (what our extractor read off ``page``) with what Gemini read added,
        when ``found`` is not confident; ``found`` itself otherwise. Raises
        RetryableError/BackendUnavailable."""
        if confident(found):
            return found
        read = await self.read(page, url)
        if read is None:
            return found
        if found.products:
            fill(found.products[0], read)
        else:
            found.products.append(read)
        found.method = "+".join(m for m in (found.method, "gemini") if m)
        return found

    async def read(self, page: Page, url: str) -> RawProduct | None:
        """The product Gemini reads off ``page``, checked against the page; or None."""
        text = page_text(page, self._max_chars)
        if not text.strip():
            return None
        images = image_candidates(page, url)
        digest = content_hash(self._client.model, text, url, images)
        reading = self._cache.get(self._client.model, digest) if self._cache else None
        if reading is not None:
            self.hits += 1
        else:
            reading = await self._ask(text, url, images)
            if reading is None:
                return None
            if self._cache is not None:
                self._cache.put(self._client.model, digest, reading)
        raw = to_raw(reading, text, url, images)
        if raw is None and reading.is_product_page:
            logger.info("gemini reading of %s rejected: not borne out by the page", url[:200])
        return raw

    async def _ask(self, text: str, url: str, images: list[str]) -> PageReading | None:
        self.calls += 1
        started = time.monotonic()
        parts = [types.Part.from_text(text=prompt(text, url, images))]
        try:
            response = await self._client.generate(parts, system=SYSTEM_PROMPT, schema=PageReading)
        except PermanentError as exc:
            logger.warning("gemini could not read %s: %s", url[:200], exc)
            return None
        logger.info("gemini read %s in %.2f s", url[:200], time.monotonic() - started)
        parsed = response.parsed
        if isinstance(parsed, PageReading):
            return parsed
        blocked = block_reason(response)
        logger.info(
            "gemini reading of %s unusable: %s",
            url[:200],
            f"refused ({blocked})" if blocked else "answer off the schema",
        )
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


def page_reader_enabled(settings: Settings) -> bool:
    return settings.gemini.extract and settings.gemini.api_key is not None


def build_page_reader(
    settings: Settings, connect: Callable[[], redis.Redis]
) -> GeminiPageReader | None:
    """The reader when :func:`page_reader_enabled`, else None. ``connect`` gives the
    Redis client for the cache and the shared rate limit (called only when enabled)."""
    if not page_reader_enabled(settings):
        if settings.gemini.extract:
            logger.warning("GEMINI_EXTRACT is on but GEMINI_API_KEY is unset: fallback off")
        return None
    from pipeline.ledger.ratelimit import RedisRateLimiter

    client = connect()
    keys = settings.redis.keys
    gemini = GeminiClient(settings.gemini, limiter=RedisRateLimiter(client, keys))
    cache = RedisReadingCache(client, keys, ttl_s=settings.gemini.extract_cache_ttl)
    return GeminiPageReader(gemini, cache, max_chars=settings.gemini.extract_max_chars)
