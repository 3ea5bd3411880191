"""Embedders on the tiny model: in this process, and as SiglipEmbedder Ray actors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pipeline.embedding.actors import RaySiglipEmbedder, replica_threads
from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.errors import PermanentError
from pipeline.settings import Settings
from tests.embedding.conftest import make_jpeg

pytestmark = pytest.mark.slow


def run(coro: Any, timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def pixels(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)


def test_local_embedder_batches_concurrent_calls(settings: Settings) -> None:
    tuned = settings.with_overrides(siglip={"max_batch_size": 16, "batch_wait_ms": 20})

    async def main() -> None:
        embedder = LocalSiglipEmbedder.from_settings(tuned, threads=1)
        try:
            batch = pixels(0, 12)
            together = await embedder.embed_pixels(batch)
            singles = await asyncio.gather(
                *(embedder.embed_pixels(batch[i : i + 1]) for i in range(12))
            )
            np.testing.assert_allclose(np.concatenate(singles), together, atol=2e-2)
            sizes = embedder.batch_sizes()["images"]
            assert max(sizes) > 1 and max(sizes) <= 16
            texts = await asyncio.gather(*(embedder.embed_texts([f"item {i}"]) for i in range(20)))
            assert all(t.shape == (1, 768) for t in texts)
            assert max(embedder.batch_sizes()["texts"]) > 1
            images = await embedder.embed_images([make_jpeg(1), make_jpeg(2)])
            assert images.shape == (2, 768)
            with pytest.raises(PermanentError, match=r"images\[1\]"):
                await embedder.embed_images([make_jpeg(1), b"broken"])
            with pytest.raises(PermanentError, match="must be a string"):
                await embedder.embed_texts(["ok", 3])  # type: ignore[list-item]
        finally:
            await embedder.aclose()

    run(main())


@pytest.fixture(scope="module")
def ray_embedder(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two tiny replicas on a fraction of a CPU each (the session Ray has 2 CPUs)."""
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("ray-embed")},
        siglip={
            "model": "tiny",
            "replicas": 2,
            "cpus_per_replica": 0.25,
            "max_batch_size": 8,
            "batch_wait_ms": 20,
            "request_timeout": 90,
        },
    )
    embedder = RaySiglipEmbedder.start(settings)
    yield embedder
    run(embedder.aclose())


def test_replicas_load_the_tiny_model(ray_embedder: RaySiglipEmbedder) -> None:
    info = ray_embedder.info()
    assert info["dim"] == 768 and "useless for search quality" in info["model"]
    assert info["torch_threads"] == 1 == replica_threads(0.25)
    assert ray_embedder.dim == 768 and ray_embedder.spec.size == 224
    assert len(ray_embedder.replicas) == 2


def test_actor_vectors_are_deterministic_normalized_and_ordered(
    ray_embedder: RaySiglipEmbedder, tiny_model: Any
) -> None:
    from pipeline.embedding.runner import SiglipRunner

    batch = pixels(3, 5)

    async def main() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first = await ray_embedder.embed_pixels(batch)
        second = await ray_embedder.embed_pixels(batch)
        texts = await ray_embedder.embed_texts(["a", "red shoes", "a"])
        return first, second, texts

    first, second, texts = run(main())
    assert first.shape == (5, 768) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, second, atol=2e-2)  # same rows, any batch/replica
    reference = SiglipRunner(tiny_model, device="cpu", precision="fp32").embed_pixels(batch)
    np.testing.assert_allclose(first, reference, atol=3e-2)  # order kept; bf16 vs fp32
    assert np.argmax(first @ reference.T, axis=1).tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert not np.allclose(texts[0], texts[1])


def test_concurrent_requests_form_batches_on_the_replicas(ray_embedder: RaySiglipEmbedder) -> None:
    batch = pixels(4, 24)

    async def main() -> list[np.ndarray]:
        return list(
            await asyncio.gather(*(ray_embedder.embed_pixels(batch[i : i + 1]) for i in range(24)))
        )

    rows = run(main())
    assert [r.shape for r in rows] == [(1, 768)] * 24
    sizes = [s for replica in ray_embedder.batch_sizes() for s in replica["images"]]
    assert max(sizes) > 1
    assert max(sizes) <= 8


def test_bad_input_comes_back_as_our_error(ray_embedder: RaySiglipEmbedder) -> None:
    async def main() -> None:
        with pytest.raises(PermanentError, match="not recognised"):
            await ray_embedder.embed_images([b"definitely not a jpeg"])
        good = await ray_embedder.embed_images([make_jpeg(5)])
        assert good.shape == (1, 768)
        with pytest.raises(PermanentError, match="uint8 of shape"):
            await ray_embedder.embed_pixels(np.zeros((1, 10, 10, 3), dtype=np.uint8))

    run(main())
