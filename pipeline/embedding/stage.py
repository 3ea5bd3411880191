"""The embed stage: products in, an image vector and a text vector per product out.

For each product the first image is read from the image store (the bytes the scrape
checked, :mod:`pipeline.stored_images`), decoded on a thread pool (size and pixel limits,
JPEG draft mode) and handed to the embedder as uint8 pixels as soon as it is ready, so
reads, decoding and inference overlap: the embedder batches whatever has arrived while
its previous batch computes. Name + description go to the text tower in the same pass.

Failures belong to one product: a missing, refused, corrupt or oversized image gives that
product an :class:`EmbedFailure` (permanent: dead-lettered), a host or replica that does
not answer gives a retryable one; the other products in the batch carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.embedding.base import Embedder
from pipeline.embedding.images import Pixels, decode_image
from pipeline.errors import BackendUnavailable, CatalogSyncError, PermanentError, RetryableError
from pipeline.images import ImageLimits
from pipeline.records import ProductRecord
from pipeline.settings import Settings
from pipeline.stored_images import StoredImages
from pipeline.vectors.base import VectorRow

logger = logging.getLogger(__name__)

ReadImage = Callable[[ProductRecord], Awaitable[bytes]]  # a product's first image
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ProductEmbedding:
    product_id: str
    image_url: str
    image_vector: Vector
    text_vector: Vector


@dataclass(frozen=True)
class EmbedFailure:
    """Why one product got no vectors; ``retryable`` tells the ledger what to do."""

    product_id: str
    reason: str
    retryable: bool

    def error(self) -> CatalogSyncError:
        """The error to raise for this product's job."""
        if self.retryable:
            return RetryableError(self.reason)
        return PermanentError(self.reason)


EmbedResult = ProductEmbedding | EmbedFailure


def product_text(product: ProductRecord) -> str:
    """What the text tower reads: the name, then the description."""
    if product.description:
        return f"{product.name}. {product.description}"
    return product.name


class EmbedStage:
    """Embeds batches of products. Reuse one instance: it owns a decode pool (and a fetcher
    when it built its own); close it with :meth:`aclose`."""

    def __init__(
        self,
        embedder: Embedder,
        read_image: ReadImage,
        *,
        limits: ImageLimits | None = None,
        decode_workers: int = 4,
        max_in_flight: int = 256,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.embedder = embedder
        self._read_image = read_image
        self.limits = limits or ImageLimits()
        self._decode_pool = ThreadPoolExecutor(decode_workers, thread_name_prefix="embed-decode")
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._close = close

    @classmethod
    def from_settings(
        cls, settings: Settings, embedder: Embedder, images: StoredImages | None = None
    ) -> EmbedStage:
        """A stage reading the image store; by default its own store and SafeFetcher (the
        worker passes the process's one :class:`StoredImages`)."""
        limits = ImageLimits.from_settings(settings.catalog)
        close = None
        if images is None:
            from pipeline.blobs import open_blob_store
            from pipeline.fetch.fetcher import SafeFetcher

            store = open_blob_store(settings)
            fetcher = SafeFetcher(settings.catalog, images=store)
            images = StoredImages(store, fetcher)

            async def close_own() -> None:
                await fetcher.aclose()
                store.close()

            close = close_own
        return cls(
            embedder,
            images.read,
            limits=limits,
            decode_workers=settings.siglip.decode_workers,
            close=close,
        )

    async def run(self, products: Sequence[ProductRecord]) -> list[EmbedResult]:
        """One result per product, in order. Never raises for a single product's trouble."""
        started = time.perf_counter()
        texts_task = asyncio.ensure_future(self._texts(products))
        images = await asyncio.gather(*(self._image_vector(p) for p in products))
        text_vectors = await texts_task
        results: list[EmbedResult] = []
        for i, (product, image) in enumerate(zip(products, images, strict=True)):
            if isinstance(image, EmbedFailure):
                results.append(image)
            elif isinstance(text_vectors, EmbedFailure):
                results.append(EmbedFailure(product.product_id, text_vectors.reason, True))
            else:
                url, vector = image
                results.append(ProductEmbedding(product.product_id, url, vector, text_vectors[i]))
        failed = sum(isinstance(r, EmbedFailure) for r in results)
        logger.info(
            "embedded %s products (%s failed) in %.2f s",
            len(products),
            failed,
            time.perf_counter() - started,
        )
        return results

    async def _texts(self, products: Sequence[ProductRecord]) -> Vector | EmbedFailure:
        try:
            return await self.embedder.embed_texts([product_text(p) for p in products])
        except CatalogSyncError as exc:
            return EmbedFailure("", f"text embedding failed: {exc}", _retryable(exc))

    async def _image_vector(self, product: ProductRecord) -> tuple[str, Vector] | EmbedFailure:
        pid = product.product_id
        if not product.image_urls:
            return EmbedFailure(pid, "product has no image", retryable=False)
        url = product.image_urls[0]
        async with self._in_flight:
            try:
                data = await self._read_image(product)
                pixels = await self._decode(data)
                vectors = await self.embedder.embed_pixels(pixels[np.newaxis])
            except CatalogSyncError as exc:
                return EmbedFailure(pid, f"image {url[:200]}: {exc}", _retryable(exc))
            except Exception as exc:  # a fetcher outside our hierarchy: assume transient
                logger.warning("embed %s: unexpected %r", pid, exc)
                return EmbedFailure(pid, f"image {url[:200]}: {exc!r}", retryable=True)
        return url, vectors[0]

    async def _decode(self, data: bytes) -> Pixels:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._decode_pool, decode_image, data, self.embedder.spec, self.limits
        )

    async def aclose(self) -> None:
        self._decode_pool.shutdown(wait=False, cancel_futures=True)
        if self._close is not None:
            with contextlib.suppress(Exception):
                await self._close()


def _retryable(exc: CatalogSyncError) -> bool:
    return isinstance(exc, RetryableError | BackendUnavailable)


def vector_rows(
    products: Sequence[ProductRecord],
    results: Sequence[EmbedResult],
    *,
    status: str = "pending",
    now: float | None = None,
) -> list[VectorRow]:
    """Rows for the vector store from the successful results (failures are skipped)."""
    stamp = time.time() if now is None else now
    by_id = {p.product_id: p for p in products}
    rows = []
    for result in results:
        if isinstance(result, EmbedFailure):
            continue
        product = by_id[result.product_id]
        rows.append(
            VectorRow(
                product_id=product.product_id,
                seller_id=product.seller_id,
                status=status,
                price=float(product.price) if product.price is not None else None,
                currency=product.currency,
                image_vector=result.image_vector,
                text_vector=result.text_vector,
                content_hash=product.content_hash,
                updated_at=stamp,
            )
        )
    return rows
