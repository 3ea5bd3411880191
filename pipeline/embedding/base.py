"""What the rest of the system needs from an embedder. Implementations live beside this."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]  # shape (n, dim), rows L2-normalized

EMBED_DIM = 768


class Embedder(Protocol):
    """SigLIP-style image and text towers into one space.

    Each call returns one row per input, in input order, L2-normalized float32.
    A corrupt image raises PermanentError for that image only (batch helpers isolate it).
    """

    @property
    def dim(self) -> int: ...

    @property
    def model_name(self) -> str: ...

    async def embed_texts(self, texts: list[str]) -> Vectors: ...

    async def embed_images(self, images: list[bytes]) -> Vectors: ...
