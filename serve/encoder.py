"""Query vectors: the SigLIP text tower for words, the image tower for photos.

:class:`QueryEncoderDeployment` is the Serve deployment: ``@serve.batch`` gathers
concurrent queries into one forward pass. :class:`HandleQueryEncoder` calls it from the
ingress. (The in-process encoder is ``pipeline.search_setup.EmbedderQueryEncoder``.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
from ray import serve

from pipeline.embedding.images import decode_image
from pipeline.images import ImageLimits
from pipeline.settings import Settings

Vector = npt.NDArray[np.float32]


class QueryEncoderDeployment:
    """The SigLIP towers behind ``@serve.batch``; replicas load the model once."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.embedding.models import load_siglip
        from pipeline.embedding.runner import SiglipRunner

        cfg = settings.siglip
        self._runner = SiglipRunner(
            load_siglip(cfg), device=cfg.device.value, precision=cfg.precision
        )
        self._limits = ImageLimits.from_settings(settings.catalog)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def encode_text(self, texts: list[str]) -> list[Vector]:
        vectors = await asyncio.to_thread(self._runner.embed_texts, texts)
        return list(vectors)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def encode_image(self, images: list[bytes]) -> list[Vector | Exception]:
        """A bad image fails alone: its caller gets the PermanentError, the others vectors."""
        decoded: list[Any] = []
        for data in images:
            try:
                decoded.append(
                    await asyncio.to_thread(
                        decode_image, data, self._runner.loaded.spec, self._limits
                    )
                )
            except Exception as exc:
                decoded.append(exc)
        good = [d for d in decoded if not isinstance(d, Exception)]
        vectors = iter(
            await asyncio.to_thread(self._runner.embed_pixels, np.stack(good)) if good else []
        )
        return [d if isinstance(d, Exception) else next(vectors) for d in decoded]


class HandleQueryEncoder:
    """A ``QueryEncoder`` that calls the deployment through its handle."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def encode_text(self, text: str) -> Vector:
        vector: Vector = await self._handle.encode_text.remote(text)
        return vector

    async def encode_image(self, image: bytes) -> Vector:
        result = await self._handle.encode_image.remote(image)
        if isinstance(result, Exception):
            raise result
        vector: Vector = result
        return vector
