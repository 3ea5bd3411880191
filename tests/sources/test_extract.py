"""Storefront and feed parsers on real-world-shaped inputs; hostile inputs never crash."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PermanentError
from pipeline.records import Availability, ProductRecord, SkippedProduct
from pipeline.sources.feed import parse_feed, row_to_raw
from pipeline.sources.normalize import RawProduct, parse_availability, to_record
from pipeline.sources.storefront_extract import extract_products

BASE = "https://shop.example.com/p/1"


def ld(data: object) -> str:
    script = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return f"<html><head>{script}</head></html>"


def record(raw: RawProduct) -> ProductRecord:
    made = to_record(raw, "seller1", BASE)
    assert isinstance(made, ProductRecord), made
    return made


def test_jsonld_single_product_with_offer() -> None:
    page = ld(
        {
            "@context": "https://schema.org/",
            "@type": "Product",
            "name": "Tênis &amp; Meia",
            "sku": "TN-1",
            "image": [{"@type": "ImageObject", "url": "/img/a.jpg"}, "/img/b.jpg"],
            "description": "Confortável",
            "offers": {
                "@type": "Offer",
                "price": 199.9,
                "priceCurrency": "BRL",
                "availability": "https://schema.org/InStock",
            },
        }
    )
    found = extract_products(page)
    assert found.method == "json-ld"
    rec = record(found.products[0])
    assert (rec.name, rec.retailer_id, rec.price, rec.currency) == (
        "Tênis & Meia",
        "TN-1",
        Decimal("199.9"),
        "BRL",
    )
    assert rec.image_urls == (
        "https://shop.example.com/img/a.jpg",
        "https://shop.example.com/img/b.jpg",
    )
    assert rec.availability == Availability.IN_STOCK


def test_jsonld_graph_arrays_aggregate_offers_and_price_specification() -> None:
    page = ld(
        [
            {
                "@context": "https://schema.org",
                "@graph": [
                    {"@type": "WebPage", "name": "x"},
                    {
                        "@type": ["Product", "Thing"],
                        "name": "Kurta",
                        "productID": "K1",
                        "offers": {
                            "@type": "AggregateOffer",
                            "lowPrice": "1299",
                            "highPrice": "1599",
                            "priceCurrency": "INR",
                            "offerCount": 3,
                        },
                    },
                ],
            },
            {
                "@type": "Product",
                "name": "Lamp",
                "mpn": "L-9",
                "offers": [
                    {
                        "@type": "Offer",
                        "priceSpecification": {
                            "@type": "UnitPriceSpecification",
                            "price": "45.00",
                            "priceCurrency": "EUR",
                        },
                        "availability": "http://schema.org/OutOfStock",
                    }
                ],
            },
        ]
    )
    recs = [record(p) for p in extract_products(page).products]
    assert [(r.name, r.retailer_id, r.price, r.currency) for r in recs] == [
        ("Kurta", "K1", Decimal("1299"), "INR"),
        ("Lamp", "L-9", Decimal("45"), "EUR"),
    ]
    assert recs[1].availability == Availability.OUT_OF_STOCK


def test_jsonld_item_list_with_products_and_links() -> None:
    page = ld(
        {
            "@type": "ItemList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": 1,
                    "item": {"@type": "Product", "name": "A", "sku": "a", "offers": {"price": "1"}},
                },
                {"@type": "ListItem", "position": 2, "url": "/products/b"},
                {"@type": "ListItem", "position": 3, "item": {"@id": "/products/c"}},
                {"@type": "ListItem", "position": 4, "item": "/products/d"},
            ],
        }
    )
    found = extract_products(page)
    assert [p.name for p in found.products] == ["A"]
    assert found.links == ["/products/b", "/products/c", "/products/d"]


def test_broken_jsonld_falls_back_to_microdata_then_opengraph() -> None:
    microdata = """<html><script type="application/ld+json">{not json</script>
    <div itemscope itemtype="http://schema.org/Product">
      <span itemprop="name">Caneca <b>azul</b></span>
      <img itemprop="image" src="/m.jpg"><meta itemprop="sku" content="CN-2">
      <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
        <meta itemprop="priceCurrency" content="BRL">
        <span itemprop="price" content="35.50">R$ 35,50</span>
        <link itemprop="availability" href="http://schema.org/PreOrder">
      </div>
      <p itemprop="description">Feita à mão
      </div>"""
    found = extract_products(microdata)
    assert found.method == "microdata"
    rec = record(found.products[0])
    assert (rec.name, rec.retailer_id, rec.price, rec.currency, rec.availability) == (
        "Caneca azul",
        "CN-2",
        Decimal("35.5"),
        "BRL",
        Availability.PREORDER,
    )
    assert rec.description == "Feita à mão"
    og = """<meta property="og:type" content="product"><meta property="og:title" content="Bag">
    <meta property="og:image" content="https://cdn.example.com/bag.jpg">
    <meta property="product:price:amount" content="20"><meta property="product:price:currency"
    content="USD"><meta property="og:url" content="https://shop.example.com/bag">"""
    found = extract_products(og)
    assert found.method == "opengraph"
    rec = record(found.products[0])
    assert (rec.name, rec.price, rec.currency) == ("Bag", Decimal("20"), "USD")
    assert rec.source_url == "https://shop.example.com/bag"
    assert extract_products('<meta property="og:title" content="Home">').products == []


def test_records_skip_what_cannot_be_imported() -> None:
    nameless = to_record(RawProduct(name="  ", retailer_id="x"), "s", BASE)
    assert isinstance(nameless, SkippedProduct) and nameless.reason == "product has no name"
    anonymous = to_record(RawProduct(name="x"), "s", "")
    assert isinstance(anonymous, SkippedProduct) and "identify" in anonymous.reason
    long = record(
        RawProduct(
            name="n" * 1000,
            retailer_id="r",
            description="d" * 20000,
            image_urls=["javascript:alert(1)", "/ok.jpg", "/ok.jpg"],
        )
    )
    assert len(long.name) == 300 and len(long.description) == 10000
    assert long.image_urls == ("https://shop.example.com/ok.jpg",)
    unparsed = record(RawProduct(name="x", retailer_id="r", price_text="sob consulta"))
    assert unparsed.price is None and unparsed.price_unparsed
    assert unparsed.price_raw == "sob consulta"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://schema.org/InStock", Availability.IN_STOCK),
        ("in stock", Availability.IN_STOCK),
        ("out_of_stock", Availability.OUT_OF_STOCK),
        ("SoldOut", Availability.OUT_OF_STOCK),
        ("preorder", Availability.PREORDER),
        ("available for order", Availability.PREORDER),
        ("whatever", Availability.UNKNOWN),
        (None, Availability.UNKNOWN),
    ],
)
def test_availability(text: str | None, expected: Availability) -> None:
    assert parse_availability(text) == expected


def meta_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "\ufeffid",
            "title",
            "description",
            "availability",
            "condition",
            "price",
            "link",
            "image_link",
            "brand",
            "additional_image_link",
        ]
    )
    writer.writerow(
        [
            "s-1",
            "Camisa, azul",
            'Linho "premium"',
            "in stock",
            "new",
            "89.90 BRL",
            "https://s.example/1",
            "https://s.example/1.jpg",
            "X",
            "https://s.example/1b.jpg,https://s.example/1c.jpg",
        ]
    )
    writer.writerow(
        [
            "s-2",
            "",
            "sem nome",
            "in stock",
            "new",
            "10.00 BRL",
            "https://s.example/2",
            "https://s.example/2.jpg",
            "X",
            "",
        ]
    )
    return out.getvalue()


GOOGLE_TSV = (
    "g:id\tg:title\tg:price\tg:sale_price\tg:image_link\tg:availability\n"
    "G1\tMug\t15.00 USD\t12.00 USD\thttps://g.example/m.jpg\tout_of_stock\n"
)


def test_meta_csv_and_google_tsv_feeds() -> None:
    rows = [row_to_raw(r) for r in parse_feed(meta_csv())]
    first = record(rows[0])
    assert (first.retailer_id, first.name, first.description, first.price, first.currency) == (
        "s-1",
        "Camisa, azul",
        'Linho "premium"',
        Decimal("89.9"),
        "BRL",
    )
    assert len(first.image_urls) == 3
    assert isinstance(to_record(rows[1], "s", BASE), SkippedProduct)
    google = record(row_to_raw(next(parse_feed(GOOGLE_TSV))))
    assert (google.retailer_id, google.price, google.availability) == (
        "G1",
        Decimal("12"),
        Availability.OUT_OF_STOCK,
    )


def test_json_and_jsonl_feeds() -> None:
    offer = {
        "offerId": "o1",
        "title": "Hat",
        "imageLink": "https://g.example/h.jpg",
        "price": {"value": "9.5", "currency": "GBP"},
    }
    content_api = json.dumps({"resources": [offer]})
    rec = record(row_to_raw(next(parse_feed(content_api))))
    assert (rec.retailer_id, rec.price, rec.currency) == ("o1", Decimal("9.5"), "GBP")
    jsonl = '{"id": "a", "title": "A", "price": "1 USD"}\nnot json\n{"id": "b", "title": "B"}\n'
    assert [r["id"] for r in parse_feed(jsonl)] == ["a", "b"]
    with pytest.raises(PermanentError, match="not valid JSON"):
        list(parse_feed("[{broken", fmt="json"))


@given(st.text(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_extraction_never_crashes_on_any_text(text: str) -> None:
    found = extract_products(text)
    for raw in found.products:
        to_record(raw, "s", BASE)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "@type",
                    "name",
                    "offers",
                    "price",
                    "image",
                    "item",
                    "@graph",
                    "itemListElement",
                    "sku",
                    "priceCurrency",
                    "url",
                    "lowPrice",
                    "availability",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(json_values, st.sampled_from(["Product", "ItemList", "ListItem", "Offer", None]))
@settings(max_examples=300, deadline=None)
def test_jsonld_extraction_never_crashes_on_any_json(value: object, kind: str | None) -> None:
    data = {"@type": kind, "name": "x", "offers": value, "image": value, "itemListElement": value}
    found = extract_products(ld(data))
    for raw in found.products:
        assert isinstance(to_record(raw, "s", BASE), ProductRecord | SkippedProduct)


def test_deeply_nested_jsonld_is_bounded() -> None:
    deep: object = {"@type": "Product", "name": "deep", "sku": "d"}
    for _ in range(5000):
        deep = [deep]
    text = '<script type="application/ld+json">' + "[" * 100000 + "]" * 100000 + "</script>"
    assert extract_products(text).products == []
    assert extract_products(ld({"@graph": [[[[{"@type": "Product", "name": "ok"}]]]]})).products
