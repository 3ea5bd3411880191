"""SigLIP zero-shot against the policy's categories, and image-text agreement, through the
``Embedder`` protocol (no torch here)."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from pipeline.embedding.base import Embedder
from pipeline.qc.policy import ALLOWED_PROMPTS, REFUSED

Vector = npt.NDArray[np.float32]
ALLOWED = "allowed"


class ZeroShotScorer:
    """Scores an image vector against every refused category's prompts and neutral ones.

    The prompt vectors are embedded once, on first use, and reused.
    """

    def __init__(self, embedder: Embedder, *, temperature: float) -> None:
        self._embedder = embedder
        self._temperature = temperature
        self._labels: list[str] = []
        self._prompts: Vector | None = None
        self._lock = asyncio.Lock()

    async def category_scores(self, image_vector: Vector) -> dict[str, float]:
        """Probability per refused category (summed over its prompts), plus ``allowed``.

        A softmax over cosine similarities times the temperature, like CLIP zero-shot.
        """
        prompts = await self._prompt_vectors()
        logits = (prompts @ _unit(image_vector)) * self._temperature
        weights = np.exp(logits - logits.max())
        probs = weights / weights.sum()
        scores: dict[str, float] = {}
        for label, prob in zip(self._labels, probs, strict=True):
            scores[label] = scores.get(label, 0.0) + float(prob)
        return scores

    async def _prompt_vectors(self) -> Vector:
        async with self._lock:
            if self._prompts is None:
                labels: list[str] = []
                texts: list[str] = []
                for category in REFUSED:
                    for prompt in category.zero_shot_prompts:
                        labels.append(category.name)
                        texts.append(prompt)
                for prompt in ALLOWED_PROMPTS:
                    labels.append(ALLOWED)
                    texts.append(prompt)
                vectors = await self._embedder.embed_texts(texts)
                self._prompts = np.asarray(vectors, dtype=np.float32)
                self._labels = labels
            return self._prompts


def agreement(image_vector: Vector, text_vector: Vector) -> float:
    """Cosine similarity of a product's image and text vectors (same SigLIP space)."""
    return float(_unit(image_vector) @ _unit(text_vector))


def _unit(vector: Vector) -> Vector:
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat
