"""The image and text towers behind two dynamic batchers: what the in-process embedder
(:class:`~pipeline.embedding.local.LocalSiglipEmbedder`) and the Ray client
(:class:`~pipeline.embedding.actors.RaySiglipEmbedder`) have in common. Each sets
``_texts`` and ``_images`` (where a batch goes: the model thread, or a replica) and
gives ``dim`` and ``spec``."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.embedding.base import Vectors
from pipeline.embedding.batching import DynamicBatcher
from pipeline.embedding.images import Pixels, PreprocessSpec, check_pixels
from pipeline.errors import PermanentError

Row = np.ndarray[Any, np.dtype[np.float32]]


class BatchedTowers:
    _texts: DynamicBatcher[str, Row]
    _images: DynamicBatcher[Pixels, Row]

    @property
    def dim(self) -> int:
        raise NotImplementedError

    @property
    def spec(self) -> PreprocessSpec:
        raise NotImplementedError

    async def embed_texts(self, texts: list[str]) -> Vectors:
        """One row per text, in order; raises PermanentError for a non-string."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise PermanentError(f"texts[{i}] must be a string, got {type(text).__name__}")
        return self._stack(await self._texts.submit_many(texts))

    async def embed_pixels(self, pixels: Pixels) -> Vectors:
        """One row per uint8 image of the model's size; PermanentError on a bad shape."""
        check_pixels(pixels, self.spec)
        return self._stack(await self._images.submit_many(list(pixels)))

    def _stack(self, rows: list[Row]) -> Vectors:
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)
