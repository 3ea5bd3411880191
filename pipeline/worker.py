"""``catalog-sync worker``: builds every stage from settings and runs the dispatcher.

Heavy objects are built where they run: the SigLIP replicas, the scraper (browser pool)
and the embedded keyword index's one writer are Ray actors; Redis, the ledger and the
vector-store client live in this process, which does every ledger transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import ray

from pipeline.backends import qc_backend
from pipeline.blobs import open_blob_store
from pipeline.dispatcher import Dispatcher
from pipeline.embedding.actors import RaySiglipEmbedder
from pipeline.embedding.stage import EmbedStage
from pipeline.fetch.fetcher import SafeFetcher
from pipeline.keyword.base import KeywordIndex
from pipeline.ledger import RedisLedger
from pipeline.ops.metrics import worker_metrics
from pipeline.ops.worker_ops import worker_ops
from pipeline.products import RedisProductStore
from pipeline.qc.factory import build_quality_checker
from pipeline.remote.keyword_writer import RayKeywordIndex
from pipeline.remote.scraper import RayScraper
from pipeline.runtime import Runtime
from pipeline.schedule.loops import seller_loops
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import QCBackend, Settings
from pipeline.stages.base import StageHandler
from pipeline.stages.embed import EmbedHandler
from pipeline.stages.index import IndexHandler
from pipeline.stages.qc import QCHandler
from pipeline.stages.scrape import ScrapeHandler, SyncSellerHandler
from pipeline.stored_images import StoredImages
from pipeline.vectors.base import VectorStore
from pipeline.vectors.milvus import MilvusVectorStore

logger = logging.getLogger(__name__)

INDEX_BATCH = 64


def ensure_ray(settings: Settings) -> bool:
    """Connect to ``RAY_ADDRESS`` or start a local Ray; True when this call started it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Serve's HTTP proxy is uvicorn, which by default takes X-Forwarded-For from loopback
    # as the client address; the API trusts only API_TRUSTED_PROXIES (serve/client_address).
    # A Ray started here passes this to the proxy; cluster.yaml sets it for `ray start`.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    if ray.is_initialized():
        return False
    address = settings.ray.address or "local"
    kwargs: dict[str, Any] = {"address": address, "log_to_driver": False}
    if address == "local":
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)
    return True


@dataclass
class WorkerParts:
    dispatcher: Dispatcher
    ledger: RedisLedger
    products: RedisProductStore
    vectors: VectorStore
    keywords: KeywordIndex
    embedder: RaySiglipEmbedder


@contextlib.asynccontextmanager
async def worker_parts(settings: Settings, runtime: Runtime) -> AsyncIterator[WorkerParts]:
    """Start every stage's backend; stop what was started here on exit."""
    async with contextlib.AsyncExitStack() as stack:
        client = runtime.redis()
        ledger = RedisLedger(client, settings.jobs, keys=settings.redis.keys)
        products = RedisProductStore(client, settings.redis.keys)
        vectors = await asyncio.to_thread(MilvusVectorStore.from_settings, settings)
        stack.callback(vectors.close)
        keywords = await asyncio.to_thread(RayKeywordIndex.start, settings)
        embedder = await asyncio.to_thread(
            RaySiglipEmbedder.start,
            settings,
            random_weights=settings.siglip.random_weights_for_benchmarks,
        )
        stack.push_async_callback(embedder.aclose)
        # One fetcher and one image store for every stage of this process: a seller's host
        # sees one politeness budget, and embed and QC read the bytes the scrape checked.
        store = open_blob_store(settings)
        stack.callback(store.close)
        fetcher = SafeFetcher(settings.catalog, images=store)
        stack.push_async_callback(fetcher.aclose)
        images = StoredImages(store, fetcher)
        embed_stage = EmbedStage.from_settings(settings, embedder, images)
        stack.push_async_callback(embed_stage.aclose)
        scraper = RayScraper.start(settings)
        stack.push_async_callback(scraper.aclose)
        # The tiny test model's vectors are noise: QC then runs on its rules alone.
        meaningful = not settings.siglip.is_tiny
        checker = build_quality_checker(settings, client, embedder=embedder if meaningful else None)
        stack.push_async_callback(checker.aclose)  # Gemini's HTTP clients hold sockets
        worker_metrics().watch_qc_cache(checker)
        # The local checker judges vectors and text; Gemini sees the photo too.
        read_image = images.read if qc_backend(settings) is QCBackend.GEMINI else None
        handlers: list[StageHandler] = [
            SyncSellerHandler(),
            ScrapeHandler(
                scraper,
                products,
                vectors,
                keywords,
                RedisSellerDirectory(client, settings.redis.keys),
            ),  # fmt: skip
            EmbedHandler(embed_stage, vectors, products, batch_size=settings.siglip.max_batch_size),
            QCHandler(checker, vectors, keywords, products, read_image),
            IndexHandler(keywords, products, batch_size=INDEX_BATCH),
        ]
        dispatcher = Dispatcher(
            ledger,
            handlers,
            concurrency=settings.jobs.concurrency,
            lease_s=settings.jobs.timeout,
        )
        yield WorkerParts(dispatcher, ledger, products, vectors, keywords, embedder)


async def run_worker(
    settings: Settings, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Run until ``stop`` is set; ``ready`` is set once every stage is up."""
    started_ray = ensure_ray(settings)
    try:
        with Runtime(settings) as runtime:
            async with worker_parts(settings, runtime) as parts:
                async with (
                    worker_ops(settings, parts.ledger, runtime.redis()),
                    seller_loops(settings, parts.ledger, runtime.redis()),
                ):
                    if ready is not None:
                        ready.set()
                    await parts.dispatcher.run(stop)
    finally:
        if started_ray:
            ray.shutdown()


class BackgroundWorker:
    """A worker on its own thread and event loop (the demo and the tests run one beside
    the API in a single process)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="catalog-sync-worker", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            watcher = asyncio.create_task(self._relay(ready))
            try:
                await run_worker(self._settings, self._stop, ready)
            finally:
                watcher.cancel()

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start() / stop()
            self._error = exc
            self._ready.set()

    async def _relay(self, ready: asyncio.Event) -> None:
        await ready.wait()
        self._ready.set()

    def start(self, timeout: float = 180.0) -> BackgroundWorker:
        """Start and wait until every stage is up; re-raises a start-up failure."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"worker not ready within {timeout} s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"worker did not stop within {timeout} s")
