"""SigLIP on Ray: ``SiglipEmbedder`` replicas and the client that spreads batches over them.

Each replica is an async Ray actor that loads the model once and runs a
:class:`~pipeline.embedding.local.LocalSiglipEmbedder`, so concurrent calls from any
number of callers are batched inside it. GPU replicas take ``num_gpus=1`` (bf16 autocast);
CPU replicas take ``SIGLIP_CPUS_PER_REPLICA`` CPUs and exactly that many torch threads,
with ``OMP_WAIT_POLICY=PASSIVE`` so idle OpenMP threads sleep instead of spinning on
cores other actors need.

:class:`RaySiglipEmbedder` is the caller's side: it batches single requests again (one
Ray call carries a whole batch of uint8 pixels, 4x smaller than floats) and sends each
batch to the replica with the fewest calls in flight, two per replica at most so the
next batch is already waiting when one finishes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Awaitable
from typing import Any

import numpy as np
import ray

from pipeline.embedding.base import Vectors
from pipeline.embedding.batching import DynamicBatcher
from pipeline.embedding.images import Pixels, PreprocessSpec
from pipeline.embedding.towers import BatchedTowers, Row
from pipeline.errors import BackendUnavailable, CatalogSyncError
from pipeline.settings import Settings

logger = logging.getLogger(__name__)


def replica_threads(cpus_per_replica: float) -> int:
    """Torch threads for a CPU share: its whole part, at least one."""
    return max(1, math.floor(cpus_per_replica))


class SiglipEmbedder:
    """One model replica, run as a Ray actor (:data:`SiglipEmbedderActor`).

    Its methods mirror the Embedder protocol; errors come back as ours (PermanentError
    for bad input) through Ray's error wrapping.
    """

    def __init__(self, settings: Settings, threads: int, random_weights: bool = False) -> None:
        # Before torch starts its OpenMP pool (the runtime_env sets it too; belt and braces).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from pipeline.embedding.local import LocalSiglipEmbedder

        self._embedder = LocalSiglipEmbedder.from_settings(
            settings, threads=threads, random_weights=random_weights
        )

    def info(self) -> dict[str, Any]:
        return {**self._embedder.info(), "pid": os.getpid()}

    def batch_sizes(self) -> dict[str, dict[int, int]]:
        return self._embedder.batch_sizes()

    async def embed_texts(self, texts: list[str]) -> Vectors:
        return await self._embedder.embed_texts(texts)

    async def embed_pixels(self, pixels: Pixels) -> Vectors:
        return await self._embedder.embed_pixels(pixels)

    async def embed_images(self, images: list[bytes]) -> Vectors:
        return await self._embedder.embed_images(images)


# The Ray actor class; typed Any because Ray's decorator types do not describe options().
SiglipEmbedderActor: Any = ray.remote(SiglipEmbedder)


class RaySiglipEmbedder(BatchedTowers):
    """An :class:`~pipeline.embedding.base.Embedder` over ``SiglipEmbedder`` replicas."""

    def __init__(
        self,
        replicas: list[Any],
        info: dict[str, Any],
        *,
        timeout: float,
        max_batch_size: int,
        max_wait_s: float,
        owned: bool = True,
    ) -> None:
        if not replicas:
            raise ValueError("RaySiglipEmbedder needs at least one replica")
        self.replicas = replicas
        self._info = info
        self._timeout = timeout
        self._owned = owned
        self._in_flight = [0] * len(replicas)
        self._next = 0
        concurrent = 2 * len(replicas)
        self._images: DynamicBatcher[Pixels, Row] = DynamicBatcher(
            self._send_pixels,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            max_concurrent_batches=concurrent,
            name="ray-siglip-images",
        )
        self._texts: DynamicBatcher[str, Row] = DynamicBatcher(
            self._send_texts,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            max_concurrent_batches=concurrent,
            name="ray-siglip-texts",
        )

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        replicas: int | None = None,
        num_cpus: float | None = None,
        name_prefix: str | None = None,
        random_weights: bool = False,
    ) -> RaySiglipEmbedder:
        """Start (or, with ``name_prefix``, find) the replicas and wait until each has loaded.

        ``random_weights`` (speed benchmarks only) builds the architecture untrained.

        Ray must be initialised already. Raises BackendUnavailable when a replica does not
        come up within ``SIGLIP_REQUEST_TIMEOUT`` (the model load error is in the message).
        """
        cfg = settings.siglip
        count = replicas if replicas is not None else cfg.replicas
        cpus = num_cpus if num_cpus is not None else cfg.cpus_per_replica
        threads = replica_threads(cpus)
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        gpu = cfg.device.value == "cuda" or (
            cfg.device.value == "auto" and resources.get("GPU", 0) >= 1
        )
        options: dict[str, Any] = {
            "num_cpus": cpus,
            "num_gpus": 1 if gpu else 0,
            "max_concurrency": 1000,  # async actor: many requests wait in its batcher
            # A replica killed mid-batch (OOM, kill -9) comes back; its calls fail as
            # BackendUnavailable and the ledger retries those jobs on the new process.
            "max_restarts": -1,
            "runtime_env": {
                "env_vars": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
            },
        }
        handles = []
        for i in range(count):
            named = {"name": f"{name_prefix}-{i}", "get_if_exists": True} if name_prefix else {}
            handles.append(
                SiglipEmbedderActor.options(**options, **named).remote(
                    settings, threads, random_weights
                )
            )
        try:
            infos = ray.get([h.info.remote() for h in handles], timeout=cfg.request_timeout)
        except ray.exceptions.GetTimeoutError as exc:
            _kill(handles)
            raise BackendUnavailable(
                f"SigLIP replicas did not load within {cfg.request_timeout} s"
            ) from exc
        except ray.exceptions.RayError as exc:
            _kill(handles)
            cause = _cause(exc)
            if isinstance(cause, CatalogSyncError):
                raise cause from exc
            raise BackendUnavailable(f"SigLIP replica failed to start: {exc}") from exc
        logger.info("siglip: %s replica(s) up: %s", count, infos[0])
        return cls(
            handles,
            infos[0],
            timeout=cfg.request_timeout,
            max_batch_size=cfg.max_batch_size,
            max_wait_s=cfg.batch_wait_ms / 1000.0,
            owned=name_prefix is None,
        )

    @property
    def dim(self) -> int:
        return int(self._info["dim"])

    @property
    def model_name(self) -> str:
        return str(self._info["model"])

    @property
    def spec(self) -> PreprocessSpec:
        spec: PreprocessSpec = self._info["spec"]
        return spec

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def batch_sizes(self) -> list[dict[str, dict[int, int]]]:
        """Each replica's batch-size histogram (what its model actually ran)."""
        sizes: list[dict[str, dict[int, int]]] = ray.get(
            [h.batch_sizes.remote() for h in self.replicas], timeout=self._timeout
        )
        return sizes

    def _pick(self) -> int:
        low = min(self._in_flight)
        n = len(self.replicas)
        for step in range(n):
            i = (self._next + step) % n
            if self._in_flight[i] == low:
                self._next = (i + 1) % n
                return i
        return 0

    async def _call(self, method: str, payload: Any) -> Vectors:
        i = self._pick()
        self._in_flight[i] += 1
        try:
            ref = getattr(self.replicas[i], method).remote(payload)
            result: Vectors = await _bounded(ref, self._timeout, method)
            return result
        finally:
            self._in_flight[i] -= 1

    async def _send_pixels(self, items: list[Pixels]) -> list[Row]:
        return list(await self._call("embed_pixels", np.stack(items)))

    async def _send_texts(self, items: list[str]) -> list[Row]:
        return list(await self._call("embed_texts", items))

    async def embed_images(self, images: list[bytes]) -> Vectors:
        # Query images are few: decode on the replica, which has the limits and the pool.
        return await self._call("embed_images", images)

    async def aclose(self) -> None:
        """Stop batching; replicas this client started are killed, named ones are kept."""
        await self._images.aclose()
        await self._texts.aclose()
        if self._owned:
            _kill(self.replicas)


async def _bounded(ref: Awaitable[Vectors], timeout: float, what: str) -> Vectors:
    """Await a Ray call with a deadline, translating Ray's errors into ours."""
    try:
        return await asyncio.wait_for(ref, timeout)
    except TimeoutError as exc:
        raise BackendUnavailable(f"SigLIP {what} took over {timeout} s") from exc
    except ray.exceptions.RayTaskError as exc:
        cause = _cause(exc)
        if isinstance(cause, CatalogSyncError):
            raise cause from None
        raise BackendUnavailable(f"SigLIP {what} failed: {cause!r}") from exc
    except ray.exceptions.RayError as exc:  # actor died, node lost ...
        raise BackendUnavailable(f"SigLIP replica unavailable: {exc}") from exc


def _cause(exc: BaseException) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _kill(handles: list[Any]) -> None:
    for handle in handles:
        try:
            ray.kill(handle)
        except Exception as exc:  # already gone: nothing to stop
            logger.debug("ray.kill: %s", exc)
