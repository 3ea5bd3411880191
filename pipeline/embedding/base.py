"""What the rest of the system needs from an embedder. Implementations live beside this.

Two implementations: :class:`~pipeline.embedding.local.LocalSiglipEmbedder` (the model in
this process) and :class:`~pipeline.embedding.actors.RaySiglipEmbedder` (N ``SiglipEmbedder``
Ray actor replicas). Callers hold an ``Embedder`` and never import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from pipeline.embedding.images import Pixels, PreprocessSpec

Vectors = npt.NDArray[np.float32]  # shape (n, dim), rows L2-normalized


class Embedder(Protocol):
    """SigLIP-style image and text towers into one space.

    Each call returns one row per input, in input order, L2-normalized float32.
    Concurrent calls are batched together by the implementation.
    """

    @property
    def dim(self) -> int: ...

    @property
    def model_name(self) -> str: ...

    @property
    def spec(self) -> PreprocessSpec:
        """How images must be decoded for :meth:`embed_pixels` (size, mean/std, resize)."""
        ...

    async def embed_texts(self, texts: list[str]) -> Vectors:
        """Raises PermanentError for a non-string input."""
        ...

    async def embed_images(self, images: list[bytes]) -> Vectors:
        """Decodes then embeds; raises PermanentError naming the first undecodable image.

        Callers that must isolate bad images decode with
        :func:`pipeline.embedding.images.decode_image` and call :meth:`embed_pixels`.
        """
        ...

    async def embed_pixels(self, pixels: Pixels) -> Vectors:
        """Embeds decoded uint8 (n, size, size, 3) images; PermanentError on a bad shape."""
        ...

    async def aclose(self) -> None: ...
