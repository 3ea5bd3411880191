"""A fake of our own ``Embedder`` protocol: words map to fixed directions ("concepts"), so
zero-shot and agreement results are known in advance. Images are registered by bytes."""

from __future__ import annotations

import hashlib
import io
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.errors import PermanentError

DIM = 64
CONCEPTS = {
    "weapon": ("gun", "firearm", "pistol", "rifle"),
    "drug": ("drugs", "cannabis", "marijuana", "maconha"),
    "counterfeit": ("counterfeit", "fake"),
    "adult": ("sexually", "sex"),
    "animal": ("puppy", "kitten", "animal"),
    "medicine": ("medicine", "pills"),
    "product": ("product",),
    "clothing": ("clothing", "shoes", "shirt"),
    "food": ("food", "drink"),
    "home": ("household", "kitchenware", "mug", "ceramic"),
    "jewel": ("jewellery", "earrings"),
    "electronics": ("electronics",),
    "furniture": ("furniture",),
    "craft": ("craft",),
}
_AXIS = {name: i for i, name in enumerate(CONCEPTS)}
_WORD = {word: name for name, words in CONCEPTS.items() for word in words}


def concept_vector(*weights: tuple[str, float]) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    for name, weight in weights:
        vector[_AXIS[name]] += weight
    return vector / np.linalg.norm(vector)


def _noise(seed: bytes) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
    vector = rng.standard_normal(DIM).astype(np.float32)
    vector[: len(CONCEPTS)] = 0  # off every concept axis: unrelated to all prompts
    return vector / np.linalg.norm(vector)


class FakeEmbedder:
    model_name = "fake-siglip"
    dim = DIM

    def __init__(self) -> None:
        self.images: dict[bytes, np.ndarray] = {}
        self.text_calls: list[list[str]] = []
        self.image_calls = 0

    def register(self, image: bytes, *weights: tuple[str, float]) -> bytes:
        self.images[image] = concept_vector(*weights)
        return image

    async def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.text_calls.append(list(texts))
        rows = []
        for text in texts:
            hits = [(_WORD[w], 1.0) for w in re.findall(r"\w+", text.lower()) if w in _WORD]
            rows.append(concept_vector(*hits) if hits else _noise(text.encode()))
        return np.stack(rows)

    async def embed_images(self, images: list[bytes]) -> np.ndarray:
        self.image_calls += 1
        rows = []
        for data in images:
            if data in self.images:
                rows.append(self.images[data])
                continue
            try:
                Image.open(io.BytesIO(data)).load()
            except (UnidentifiedImageError, OSError) as exc:
                raise PermanentError(f"image 0 could not be decoded: {exc}") from exc
            rows.append(_noise(data))
        return np.stack(rows)

    async def aclose(self) -> None:
        pass
