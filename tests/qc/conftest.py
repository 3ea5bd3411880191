"""QC fixtures: a fake Gemini endpoint on loopback, product builders, the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from pipeline.records import ProductRecord
from tests.qc.fake_embedder import FakeEmbedder
from tests.qc.fake_gemini import FakeGemini


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    server = FakeGemini().start()
    yield server
    server.stop()


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


def product(name: str = "Red ceramic mug", **fields: Any) -> ProductRecord:
    base: dict[str, Any] = {
        "product_id": "seller-1:p1",
        "seller_id": "seller-1",
        "name": name,
        "description": "Hand-thrown stoneware, 350 ml.",
        "price": Decimal("12.50"),
        "currency": "USD",
        "image_urls": ("https://shop.example/p1.jpg",),
        "source_url": "https://shop.example/p1",
    }
    base.update(fields)
    return ProductRecord(**base)
