"""Search the way shoppers type, on the indices that promise it (embedded tantivy and
Elasticsearch): typos, plurals and inflections in the sellers' languages, missing accents,
SKUs and several words. One test per query kind, each over both backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.keyword import analysis
from pipeline.keyword.base import KeywordDoc, KeywordIndex
from pipeline.keyword.elasticsearch_index import ElasticsearchKeywordIndex
from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from tests.keyword.conftest import es_settings
from tests.keyword.fake_es import FakeElasticsearch

BACKENDS = ["tantivy", "elasticsearch-fake"]
if os.environ.get("ELASTICSEARCH_URL"):
    BACKENDS.append("elasticsearch-live")


def doc(pid: str, name: str, description: str = "", sku: str | None = None) -> KeywordDoc:
    return KeywordDoc(
        product_id=pid,
        seller_id="seller-a",
        name=name,
        description=description,
        status="approved",
        price=Decimal("10"),
        currency="BRL",
        content_hash=f"h-{pid}",
        sku=sku,
    )


CATALOG = [
    doc("bread", "Pão francês", "Pão crocante feito todos os dias na padaria", "PAO-001"),
    doc("bijou", "Bijou en argent", "Un bijou fait main en argent massif"),
    doc("horse", "Cheval en bois", "Un cheval en bois peint pour les enfants"),
    doc("shirt", "Camiseta de algodão", "Camiseta básica de algodão orgânico"),
    doc("wallet", "Leather wallet", "Brown leather wallet with six card slots", "LW-38"),
    doc("purse", "Carteira de couro", "Carteira de couro legítimo marrom"),
    doc("sandal", "Sandalias de cuero", "Sandalias de cuero hechas a mano para mujer"),
    doc("batik", "Baju batik pria", "Baju batik pria lengan panjang dari Solo"),
    doc("kurta", "सूती कुर्ता", "आरामदायक सूती कुर्ता"),
    doc("cap", "Cap", "A plain cap"),
    doc("cup", "Cup", "A plain cup"),
    doc("lamp", "Luminária de mesa", "Luminária de mesa com cúpula de linho"),
]


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeywordIndex]:
    built: KeywordIndex
    if request.param == "tantivy":
        built = TantivyKeywordIndex(tmp_path / "tantivy", heap_bytes=15_000_000)
    elif request.param == "elasticsearch-fake":
        server = FakeElasticsearch().start()
        request.addfinalizer(server.stop)
        built = ElasticsearchKeywordIndex(es_settings(server.url))
    else:
        built = ElasticsearchKeywordIndex(es_settings(os.environ["ELASTICSEARCH_URL"]))
    assert built.upsert(CATALOG).errors == {}
    built.refresh()
    yield built
    if isinstance(built, ElasticsearchKeywordIndex) and request.param.endswith("live"):
        built.drop()
    built.close()


def top(index: KeywordIndex, query: str) -> str | None:
    hits = index.search(query)
    return hits[0].product_id if hits else None


@pytest.mark.parametrize(
    ("query", "expected"),
    [("lether", "wallet"), ("walet", "wallet"), ("cartera", "purse"), ("algodao", "shirt")],
)
def test_one_typo_from_five_letters(index: KeywordIndex, query: str, expected: str) -> None:
    assert top(index, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    # a swapped pair of letters is one edit: cuoro for couro, sandalais for sandalias
    # (cuoro is also one substitution from cuero: both leathers are fine answers)
    [("cuoro", {"purse", "sandal"}), ("sandalais", {"sandal"}), ("carteria", {"purse"})],
)
def test_transposition_is_one_edit(index: KeywordIndex, query: str, expected: set[str]) -> None:
    found = [hit.product_id for hit in index.search(query)]
    assert found and set(found) <= expected


@pytest.mark.parametrize(("query", "expected"), [("camisteta", "shirt"), ("luminarai", "lamp")])
def test_two_typos_from_nine_letters(index: KeywordIndex, query: str, expected: str) -> None:
    assert top(index, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    # two edits that shortened a long word: crtiera (carteira, a letter dropped and two
    # swapped), lumnria (luminária, two dropped); at 7 letters the length rule allows one
    [("crtiera", "purse"), ("lumnria de mesa", "lamp"), ("sandlais", "sandal")],
)
def test_a_word_the_catalog_does_not_know_may_be_two_edits_off(
    index: KeywordIndex, query: str, expected: str
) -> None:
    assert top(index, query) == expected


def test_a_known_word_keeps_its_length_rule(index: KeywordIndex) -> None:
    # "leather" is in the catalog: "feathers" (two edits away) is not a match for it
    index.upsert([doc("pillow", "Feathers pillow", "Soft feathers")])
    index.refresh()
    assert "pillow" not in {h.product_id for h in index.search("leather")}
    # ...while a word the catalog does not know reaches it (fethrs: two letters dropped)
    assert top(index, "fethrs") == "pillow"


def test_short_words_must_be_exact(index: KeywordIndex) -> None:
    # cap/cup are one edit apart: under five letters no fuzz, or each would find the other
    assert [h.product_id for h in index.search("cap")] == ["cap"]
    assert [h.product_id for h in index.search("lw-39")] == []  # digits never fuzz


def test_exact_form_ranks_above_fuzzy(index: KeywordIndex) -> None:
    extra = doc("wallet2", "Lether walet", "A wallet spelt wrong by its seller")
    index.upsert([extra])
    index.refresh()
    found = [h.product_id for h in index.search("leather")]
    assert found[0] == "wallet" and "wallet2" in found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("paes", "bread"),  # pt: pães, accent-less
        ("pães", "bread"),
        ("bijoux", "bijou"),  # fr: -oux
        ("chevaux", "horse"),  # fr: -aux -> -al
        ("camisetas", "shirt"),  # pt/es -s
        ("carteiras", "purse"),
        ("sandalia", "sandal"),  # es: singular of sandalias
        ("wallets", "wallet"),  # en
        ("batiknya", "batik"),  # id: -nya suffix
        ("कुर्ते", "kurta"),  # hi: oblique form
    ],
)
def test_plurals_and_inflections(index: KeywordIndex, query: str, expected: str) -> None:
    assert top(index, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"), [("pao frances", "bread"), ("luminaria", "lamp"), ("cupula", "lamp")]
)
def test_missing_accents(index: KeywordIndex, query: str, expected: str) -> None:
    assert top(index, query) == expected


def test_sku_lookup_comes_first(index: KeywordIndex) -> None:
    assert top(index, "pao-001") == "bread"
    assert top(index, "LW-38") == "wallet"


def test_multi_word_query_prefers_the_product_with_every_word(index: KeywordIndex) -> None:
    assert top(index, "brown leather wallet") == "wallet"
    assert top(index, "sandalias cuero mujer") == "sandal"


def test_hindi_words_stay_whole(index: KeywordIndex) -> None:
    assert top(index, "कुर्ता") == "kurta"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Pão de queijo mineiro tradicional", "pt"),
        ("Zapatos de cuero para hombre", "es"),
        ("Cheval en bois pour enfants", "fr"),
        ("Baju batik pria lengan panjang", "id"),
        ("Brown leather wallet", "en"),
        ("सूती कुर्ता", "hi"),
        ("12", None),
    ],
)
def test_language_is_detected_once_from_the_text(text: str, language: str | None) -> None:
    assert analysis.detect_language(text) == language


def test_seller_language_overrides_detection(tmp_path: Path) -> None:
    # "pains" stems to "pain" in French only: the profile's language decides the stem
    index = TantivyKeywordIndex(tmp_path / "t", heap_bytes=15_000_000)
    french = KeywordDoc(**{**vars(doc("p", "Pains", "")), "language": "fr"})
    index.upsert([french])
    assert [h.product_id for h in index.search("pain")] == ["p"]
    index.close()


@pytest.mark.parametrize(
    ("word", "edits"), [("cap", 0), ("wall", 0), ("walet", 1), ("leathers", 1), ("camisteta", 2)]
)
def test_fuzzy_distance_scales_with_length(word: str, edits: int) -> None:
    assert analysis.fuzzy_distance(word) == edits


@pytest.mark.parametrize(("word", "edits"), [("walet", 1), ("lumnria", 2), ("ab12cde", 0)])
def test_an_unknown_word_gets_two_edits_from_six_letters(word: str, edits: int) -> None:
    assert analysis.fuzzy_distance(word, unknown=True) == edits


def test_edit_distance_counts_a_swap_once() -> None:
    assert analysis.edit_distance("cuoro", "couro", 2) == 1
    assert analysis.edit_distance("camisteta", "camiseta", 2) == 1
    assert analysis.edit_distance("abcdef", "zzzzzz", 2) == 3  # stops past the limit
