"""Scraping on Ray: one actor owns the browser pool and the fetcher, reused across jobs.

A browser per job would cost a second of start-up and hundreds of MB each time; the
actor keeps one Chromium with a context per scrape. It is an async actor, so up to
``JOB_CONCURRENCY`` scrapes share its event loop (and its per-host politeness limits).
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from pipeline.errors import BackendUnavailable
from pipeline.settings import Settings
from pipeline.sources.base import ScrapeResult, SourceKind


class ScraperWorker:
    """Runs in its own process as :data:`ScraperActor`."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.blobs import open_blob_store
        from pipeline.fetch.fetcher import SafeFetcher
        from pipeline.runtime import Runtime
        from pipeline.sources.detect import CatalogSources, page_reader

        # This process's one fetcher, shared by every source (one budget per host); it
        # keeps each image it verifies in the image store, where the later stages read it.
        self._store = open_blob_store(settings)
        self._fetcher = SafeFetcher(settings.catalog, images=self._store)
        self._runtime = Runtime(settings)
        reader = page_reader(settings, self._runtime.redis)  # Redis only when it is on
        self._sources = CatalogSources(settings.catalog, fetcher=self._fetcher, reader=reader)

    async def scrape(self, url: str, seller_id: str, source: str) -> ScrapeResult:
        return await self._sources.scrape(url, seller_id, SourceKind(source))

    async def aclose(self) -> None:
        await self._sources.aclose()
        await self._fetcher.aclose()
        self._store.close()
        self._runtime.close()


ScraperActor = ray.remote(num_cpus=0, max_restarts=-1)(ScraperWorker)


class RayScraper:
    """The dispatcher's side: ``Scraper`` over the actor, each call bounded in time."""

    def __init__(self, handle: Any, timeout: float) -> None:
        self._handle = handle
        self._timeout = timeout

    @classmethod
    def start(cls, settings: Settings) -> RayScraper:
        concurrency = settings.jobs.concurrency
        handle = ScraperActor.options(max_concurrency=concurrency).remote(settings)
        return cls(handle, timeout=settings.jobs.timeout)

    async def scrape(self, url: str, seller_id: str, source: str) -> ScrapeResult:
        ref = self._handle.scrape.remote(url, seller_id, source)
        try:
            result: ScrapeResult = await asyncio.wait_for(ref, timeout=self._timeout)
        except TimeoutError as exc:
            # wait_for only stops waiting: the actor would go on scraping, holding one of
            # its JOB_CONCURRENCY slots, a browser page and a host's budget. Cancel it there.
            ray.cancel(ref)
            raise BackendUnavailable(f"scrape of {url[:200]} exceeded {self._timeout} s") from exc
        except asyncio.CancelledError:
            ray.cancel(ref)  # our caller gave up (shutdown, lease lost): so does the actor
            raise
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # type: ignore[no-untyped-call]
        except ray.exceptions.RayActorError as exc:
            raise BackendUnavailable(f"scraper actor died: {exc}") from exc
        return result

    async def aclose(self) -> None:
        try:
            await asyncio.wait_for(self._handle.aclose.remote(), timeout=10)
        except Exception:  # the actor is going away anyway
            pass
        ray.kill(self._handle)
