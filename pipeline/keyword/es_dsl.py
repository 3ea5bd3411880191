"""The Elasticsearch side of the keyword index as data: index template, documents, queries.

Pure functions, so the adapter stays small and the fake server in the tests checks exactly
what a real cluster would receive.
"""

from __future__ import annotations

from typing import Any

from pipeline.keyword.base import KeywordDoc, KeywordFilter

# scaled_float stores price * 100 as a long: exact cents, cheap range filters.
PRICE_SCALING_FACTOR = 100
TEXT_FIELDS = ("name^3", "name.en^1.5", "description", "description.en^0.5")


def analysis(icu: bool) -> dict[str, Any]:
    """Product text in many languages: ICU segmentation and folding when the plugin exists,
    else the standard tokenizer (Unicode word boundaries) with lowercase and ASCII folding.
    """
    if icu:
        tokenizer, folding = "icu_tokenizer", ["icu_folding"]
    else:
        tokenizer, folding = "standard", ["lowercase", "asciifolding"]
    return {
        "analyzer": {
            "product_text": {"type": "custom", "tokenizer": tokenizer, "filter": folding},
            "product_text_en": {
                "type": "custom",
                "tokenizer": tokenizer,
                "filter": [*folding, "english_possessive", "english_stem"],
            },
        },
        "filter": {
            "english_possessive": {"type": "stemmer", "language": "possessive_english"},
            "english_stem": {"type": "stemmer", "language": "english"},
        },
    }


def mappings() -> dict[str, Any]:
    def text() -> dict[str, Any]:
        return {
            "type": "text",
            "analyzer": "product_text",
            "fields": {"en": {"type": "text", "analyzer": "product_text_en"}},
        }

    return {
        # strict: a typo in a field name is an error, not a silently new field.
        "dynamic": "strict",
        "properties": {
            "product_id": {"type": "keyword"},
            "seller_id": {"type": "keyword"},
            "status": {"type": "keyword"},
            "currency": {"type": "keyword"},
            "price": {"type": "scaled_float", "scaling_factor": PRICE_SCALING_FACTOR},
            "name": text(),
            "description": text(),
            "content_hash": {"type": "keyword", "index": False},
        },
    }


def index_template(index: str, icu: bool) -> dict[str, Any]:
    """Arguments of ``indices.put_index_template`` for every concrete ``<index>-*`` index."""
    return {
        "name": f"{index}-template",
        "index_patterns": [f"{index}-*"],
        "priority": 200,
        "template": {
            "settings": {"index": {"refresh_interval": "1s"}, "analysis": analysis(icu)},
            "mappings": mappings(),
        },
        "meta": {"owner": "catalog-sync"},
    }


def source(doc: KeywordDoc) -> dict[str, Any]:
    return {
        "product_id": doc.product_id,
        "seller_id": doc.seller_id,
        "status": doc.status,
        "currency": doc.currency,
        # A string keeps the Decimal exact on the wire; ES parses it for scaled_float.
        "price": str(doc.price) if doc.price is not None else None,
        "name": doc.name,
        "description": doc.description,
        "content_hash": doc.content_hash,
    }


def filter_clauses(filters: KeywordFilter) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [
        {"term": {field: value}}
        for field, value in (
            ("status", filters.status),
            ("seller_id", filters.seller_id),
            ("currency", filters.currency),
        )
        if value is not None
    ]
    price: dict[str, str] = {}
    if filters.min_price is not None:
        price["gte"] = str(filters.min_price)
    if filters.max_price is not None:
        price["lte"] = str(filters.max_price)
    if price:
        clauses.append({"range": {"price": price}})
    return clauses


def search_query(query: str, filters: KeywordFilter) -> dict[str, Any]:
    """BM25 over the text fields (any word may match), filters in filter context (no score)."""
    return {
        "bool": {
            "must": [
                {
                    "multi_match": {
                        "query": query,
                        "type": "most_fields",
                        "fields": list(TEXT_FIELDS),
                        "operator": "or",
                    }
                }
            ],
            "filter": filter_clauses(filters),
        }
    }
