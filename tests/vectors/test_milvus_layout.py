"""Which collections the store uses, from the server's version or what already exists."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.vectors.milvus_layout import (
    NO_PRICE,
    choose_layout,
    decode_nulls,
    encode_nulls,
    server_version,
)

BOTH = {"image_vector": {}, "text_vector": {}, "price": {"nullable": True}}


def test_server_versions() -> None:
    assert server_version("v2.3.5-lite") == (2, 3)
    assert server_version("2.4.13") == (2, 4)
    assert server_version("milvus_lite-3.2.2") is None
    assert server_version("unknown") is None


@pytest.mark.parametrize(
    ("version", "lite", "kind", "nullable"),
    [
        ("v2.3.5-lite", False, "split", False),
        ("v2.4.13", False, "combined", False),
        ("v2.5.4", False, "combined", True),
        ("", True, "combined", True),
        ("garbage", False, "split", False),  # unknown: the layout every version takes
    ],
)
def test_new_collections_follow_the_version(
    version: str, lite: bool, kind: str, nullable: bool
) -> None:
    layout = choose_layout(
        "auto", collection="products", lite=lite, version_text=version, existing_fields=None
    )
    assert (layout.kind, layout.nullable) == (kind, nullable)
    expected = ("products",) if kind == "combined" else ("products", "products_text")
    assert layout.names == expected
    assert layout.collections["image_vector"] == "products"
    assert ("one vector field per collection" in layout.reason) == (kind == "split")


def test_an_existing_collection_keeps_its_layout() -> None:
    split = choose_layout(
        "auto",
        collection="products",
        lite=False,
        version_text="v2.5.0",
        existing_fields={"image_vector": {}, "price": {}},
    )
    assert split.kind == "split" and not split.nullable and "exists" in split.reason
    combined = choose_layout(
        "auto", collection="products", lite=True, version_text="", existing_fields=BOTH
    )
    assert combined.kind == "combined" and combined.nullable
    with pytest.raises(ConfigError, match="exists as combined"):
        choose_layout("split", collection="products", lite=True, version_text="",
                      existing_fields=BOTH)  # fmt: skip
    with pytest.raises(ConfigError, match="needs Milvus >= 2.4"):
        choose_layout("combined", collection="p", lite=False, version_text="v2.3.5",
                      existing_fields=None)  # fmt: skip


def test_nulls_become_sentinels_only_where_the_server_has_no_null() -> None:
    old = choose_layout("auto", collection="p", lite=False, version_text="v2.3.5",
                        existing_fields=None)  # fmt: skip
    new = choose_layout("auto", collection="p", lite=True, version_text="", existing_fields=None)
    entity = {"price": None, "currency": None, "status": "approved"}
    stored = encode_nulls(entity, old)
    assert stored["price"] == NO_PRICE and stored["currency"] == ""
    assert decode_nulls(stored) == entity
    assert encode_nulls(entity, new) == entity
    assert decode_nulls({"price": 0.0, "currency": "USD"}) == {"price": 0.0, "currency": "USD"}
