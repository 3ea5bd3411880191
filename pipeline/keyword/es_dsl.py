"""The Elasticsearch side of the keyword index as data: index template, documents, queries.

Pure functions, so the adapter stays small and the fake server in the tests checks exactly
what a real cluster would receive.
"""

from __future__ import annotations

from typing import Any

from pipeline.keyword import analysis as text_analysis
from pipeline.keyword.base import KeywordDoc, KeywordFilter

# scaled_float stores price * 100 as a long: exact cents, cheap range filters.
PRICE_SCALING_FACTOR = 100
# Elasticsearch's stemmer filter name for each language we serve (analysis.LANGUAGES).
ES_STEMMERS = {
    "pt": "light_portuguese",
    "es": "light_spanish",
    "fr": "light_french",
    "id": "indonesian",
    "en": "english",
    "hi": "hindi",
}
# Plurals the stemmers miss once accents are folded (pães -> paes): the same rules as
# analysis._PLURALS, as pattern_replace filters that run before the stemmer.
_PLURAL_PATTERNS = {
    "pt": [("(.)(aes|oes|aos)$", "$1ao"), ("(.)ais$", "$1al"), ("(.)eis$", "$1el")],
    "fr": [("(.)eaux$", "$1eau"), ("(.)aux$", "$1al"), ("(.)oux$", "$1ou")],
}
EXACT_FIELDS = ("name^3", "description")
STEM_FIELDS = tuple(
    f"{field}.{language}^{boost}"
    for field, boost in (("name", 1.5), ("description", 0.5))
    for language in ES_STEMMERS
)
TEXT_FIELDS = EXACT_FIELDS + STEM_FIELDS
FUZZY_FIELDS = ("name^0.75", "description^0.25")
# analysis.fuzzy_distance in Elasticsearch's terms: 0 edits under 5 letters, 1 to 8, then 2.
FUZZINESS = "AUTO:5,9"
SKU_BOOST = 20.0
MAX_PROBED_WORDS = 8


def analysis(icu: bool) -> dict[str, Any]:
    """Product text in many languages: ICU segmentation and folding when the plugin exists,
    else the standard tokenizer (Unicode word boundaries) with lowercase and ASCII folding.
    Each language's analyzer folds first, then its plural rules and stemmer, as
    ``pipeline.keyword.analysis`` does for the embedded index.
    """
    if icu:
        tokenizer, folding = "icu_tokenizer", ["icu_folding"]
    else:
        tokenizer, folding = "standard", ["lowercase", "asciifolding"]
    analyzers: dict[str, Any] = {
        "product_text": {"type": "custom", "tokenizer": tokenizer, "filter": folding},
    }
    filters: dict[str, Any] = {}
    for language, stemmer in ES_STEMMERS.items():
        chain = list(folding)
        for number, (pattern, replacement) in enumerate(_PLURAL_PATTERNS.get(language, [])):
            name = f"plural_{language}_{number}"
            filters[name] = {
                "type": "pattern_replace",
                "pattern": pattern,
                "replacement": replacement,
            }
            chain.append(name)
        filters[f"stem_{language}"] = {"type": "stemmer", "language": stemmer}
        chain.append(f"stem_{language}")
        analyzers[f"product_text_{language}"] = {
            "type": "custom",
            "tokenizer": tokenizer,
            "filter": chain,
        }
    return {"analyzer": analyzers, "filter": filters}


def mappings() -> dict[str, Any]:
    def text() -> dict[str, Any]:
        return {
            "type": "text",
            "analyzer": "product_text",
            "fields": {
                language: {"type": "text", "analyzer": f"product_text_{language}"}
                for language in ES_STEMMERS
            },
        }

    return {
        # strict: a typo in a field name is an error, not a silently new field.
        "dynamic": "strict",
        "properties": {
            "product_id": {"type": "keyword"},
            "seller_id": {"type": "keyword"},
            "status": {"type": "keyword"},
            "currency": {"type": "keyword"},
            "availability": {"type": "keyword"},
            "language": {"type": "keyword"},
            # normalized: the lookup is exact but not case-sensitive.
            "sku": {"type": "keyword", "normalizer": "sku"},
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
            "settings": {
                "index": {"refresh_interval": "1s"},
                "analysis": {
                    **analysis(icu),
                    "normalizer": {
                        "sku": {"type": "custom", "filter": ["lowercase", "asciifolding"]}
                    },
                },
            },
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
        "availability": doc.availability,
        "language": doc.language or text_analysis.detect_language(f"{doc.name}\n{doc.description}"),
        "sku": doc.sku,
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


def _word_clauses(query: str, fuzziness: str | int) -> list[dict[str, Any]]:
    """The query's words over the exact and stemmed fields, and within ``fuzziness`` edits
    over the exact fields at a lower boost."""
    return [
        {
            "multi_match": {
                "query": query,
                "type": "most_fields",
                "fields": list(TEXT_FIELDS),
                "operator": "or",
            }
        },
        _fuzzy_clause(query, fuzziness),
    ]


def _fuzzy_clause(query: str, fuzziness: str | int) -> dict[str, Any]:
    return {
        "multi_match": {
            "query": query,
            "type": "most_fields",
            "fields": list(FUZZY_FIELDS),
            "operator": "or",
            "fuzziness": fuzziness,
            "fuzzy_transpositions": True,
            "prefix_length": 0,
            "max_expansions": 50,
        }
    }


def words_to_probe(query: str) -> list[str]:
    """Query words whose typo allowance depends on whether the catalog knows them
    (``analysis.fuzzy_distance``): their length is in the window where an unknown word
    gets two edits and a known one fewer."""
    return [
        word
        for word in dict.fromkeys(text_analysis.words(query))
        if text_analysis.fuzzy_distance(word) != text_analysis.fuzzy_distance(word, unknown=True)
    ][:MAX_PROBED_WORDS]


def probe_body(words: list[str]) -> dict[str, Any]:
    """One request, no hits returned: how many documents each word matches as typed,
    stemmed or within its length's allowance (a ``filters`` aggregation, a bucket each)."""
    buckets = {
        f"w{i}": {"bool": {"should": _word_clauses(word, FUZZINESS), "minimum_should_match": 1}}
        for i, word in enumerate(words)
    }
    return {"size": 0, "aggs": {"known": {"filters": {"filters": buckets}}}}


def unknown_words(words: list[str], response: dict[str, Any]) -> list[str]:
    """The probed words no document matched (``probe_body``'s answer)."""
    buckets = response["aggregations"]["known"]["buckets"]
    return [word for i, word in enumerate(words) if not buckets[f"w{i}"]["doc_count"]]


def search_query(
    query: str, filters: KeywordFilter, unknown: list[str] | None = None
) -> dict[str, Any]:
    """BM25 over the exact and every language's stemmed fields (any word may match), a
    fuzzy copy over the exact fields at a lower boost, an exact SKU on top; filters in
    filter context (no score). Each ``unknown`` word (see ``words_to_probe``) may also be
    two edits off, at the fuzzy boost."""
    should = _word_clauses(query, FUZZINESS)
    should += [_fuzzy_clause(word, 2) for word in unknown or ()]
    should.append({"term": {"sku": {"value": query.strip(), "boost": SKU_BOOST}}})
    return {
        "bool": {
            "should": should,
            "minimum_should_match": 1,
            "filter": filter_clauses(filters),
        }
    }
