"""The local checker on the real embedder with the tiny (untrained) SigLIP: the plumbing,
not the judgement. Its zero-shot scores are noise, so only the shape of verdicts is checked."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.qc.base import QCInput
from pipeline.qc.local import LocalQualityChecker
from pipeline.records import QCDecision, QCVerdict
from pipeline.sample_site.images import CORRUPT_JPEG, product_jpeg
from pipeline.settings import Settings
from tests.qc.conftest import product


@pytest.mark.slow
def test_local_checker_runs_on_the_tiny_siglip(settings: Settings) -> None:
    from pipeline.embedding.local import LocalSiglipEmbedder

    async def run() -> list[QCVerdict]:
        embedder = LocalSiglipEmbedder.from_settings(settings, threads=1)
        try:
            checker = LocalQualityChecker(settings.qc, embedder)
            return [
                await checker.check(QCInput(product(), product_jpeg("tiny-1"))),
                await checker.check(QCInput(product(), CORRUPT_JPEG)),
            ]
        finally:
            await embedder.aclose()

    ok, corrupt = asyncio.run(asyncio.wait_for(run(), 120))
    assert ok.model.startswith("local-qc:rules+siglip:")
    assert ok.decision in set(QCDecision)
    assert 0 <= ok.confidence <= 1
    assert corrupt.decision == QCDecision.REJECTED
    assert corrupt.reasons == ["image could not be decoded"]
