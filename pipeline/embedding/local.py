"""The embedder in this process: dynamic batching in asyncio, the model on its own thread.

The event loop only queues requests and hands batches over; torch runs on one dedicated
thread (it releases the GIL, so the loop keeps accepting requests and the next batch
fills while the current one computes), and image decoding runs on a separate pool so the
model never waits for PIL. This is what each ``SiglipEmbedder`` Ray actor runs inside.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from pipeline.embedding.base import Vectors
from pipeline.embedding.batching import DynamicBatcher
from pipeline.embedding.images import Pixels, PreprocessSpec, decode_image
from pipeline.embedding.models import load_siglip
from pipeline.embedding.runner import SiglipRunner
from pipeline.embedding.towers import BatchedTowers, Row
from pipeline.errors import PermanentError
from pipeline.images import ImageLimits
from pipeline.settings import Settings

logger = logging.getLogger(__name__)


class LocalSiglipEmbedder(BatchedTowers):
    """An :class:`~pipeline.embedding.base.Embedder` over a :class:`SiglipRunner`."""

    def __init__(
        self,
        runner: SiglipRunner,
        *,
        max_batch_size: int = 32,
        max_wait_s: float = 0.01,
        decode_workers: int = 4,
        limits: ImageLimits | None = None,
    ) -> None:
        self.runner = runner
        self.limits = limits or ImageLimits()
        # One model thread: torch already spreads one batch over its own threads, and two
        # batches at once would only fight over them.
        self._model_pool = ThreadPoolExecutor(1, thread_name_prefix="siglip-model")
        self._decode_pool = ThreadPoolExecutor(decode_workers, thread_name_prefix="siglip-decode")
        self._images: DynamicBatcher[Pixels, Row] = DynamicBatcher(
            self._run_pixels,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            name="siglip-images",
        )
        self._texts: DynamicBatcher[str, Row] = DynamicBatcher(
            self._run_texts,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            name="siglip-texts",
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, threads: int | None = None, random_weights: bool = False
    ) -> LocalSiglipEmbedder:
        """Load the model the settings name; raises ConfigError/BackendUnavailable as the loader.

        ``random_weights`` (speed benchmarks only) builds the architecture untrained.
        """
        cfg = settings.siglip
        loaded = load_siglip(cfg, random_weights=random_weights)
        runner = SiglipRunner(
            loaded, device=cfg.device.value, precision=cfg.precision, threads=threads
        )
        return cls(
            runner,
            max_batch_size=cfg.max_batch_size,
            max_wait_s=cfg.batch_wait_ms / 1000.0,
            decode_workers=cfg.decode_workers,
            limits=ImageLimits.from_settings(settings.catalog),
        )

    @property
    def dim(self) -> int:
        return self.runner.dim

    @property
    def model_name(self) -> str:
        return self.runner.loaded.name

    @property
    def spec(self) -> PreprocessSpec:
        return self.runner.loaded.spec

    def info(self) -> dict[str, Any]:
        """What runs where: shown by the CLI and benchmarks."""
        import torch

        return {
            "model": self.model_name,
            "dim": self.dim,
            "device": self.runner.device,
            "precision": self.runner.precision,
            "torch_threads": torch.get_num_threads(),
            "trained": self.runner.loaded.trained,
            "spec": self.spec,
        }

    def batch_sizes(self) -> dict[str, dict[int, int]]:
        """Histogram of batch sizes so far, per tower."""
        return {
            "images": dict(self._images.stats.sizes),
            "texts": dict(self._texts.stats.sizes),
        }

    async def _run_pixels(self, items: list[Pixels]) -> list[Row]:
        batch = np.stack(items)
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self._model_pool, self.runner.embed_pixels, batch)
        return list(vectors)

    async def _run_texts(self, items: list[str]) -> list[Row]:
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self._model_pool, self.runner.embed_texts, items)
        return list(vectors)

    async def decode(self, data: bytes) -> Pixels:
        """Decode on the decode pool; raises PermanentError for a bad image."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._decode_pool, decode_image, data, self.spec, self.limits
        )

    async def embed_images(self, images: list[bytes]) -> Vectors:
        decoded = await asyncio.gather(*(self.decode(d) for d in images), return_exceptions=True)
        for i, item in enumerate(decoded):
            if isinstance(item, BaseException):
                raise PermanentError(f"images[{i}]: {item}") from item
        pixels = [p for p in decoded if not isinstance(p, BaseException)]
        return self._stack(await self._images.submit_many(pixels))

    async def aclose(self) -> None:
        await self._images.aclose()
        await self._texts.aclose()
        self._model_pool.shutdown(wait=False, cancel_futures=True)
        self._decode_pool.shutdown(wait=False, cancel_futures=True)
