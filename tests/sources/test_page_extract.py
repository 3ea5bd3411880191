"""Every format on a page at once, merged; pages without structured data; clean text;
evidence and confidence; and no product seen on a page ever dropped in silence."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from pipeline.records import Availability, ProductRecord
from pipeline.settings import Settings
from pipeline.sources.base import SourceKind
from pipeline.sources.detect import CatalogSources
from pipeline.sources.normalize import Evidence, RawProduct, clean_text, to_record
from pipeline.sources.page_product import page_product
from pipeline.sources.storefront_extract import extract_products
from tests.sources.httpserver import Reply, TestServer

BASE = "https://shop.example.com/p/1"


def _jsonld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _ld_product(n: int) -> dict[str, object]:
    return {
        "@type": "Product",
        "sku": f"LD-{n}",
        "name": f"Lamp {n}",
        "offers": {"@type": "Offer", "price": f"{10 + n}.00", "priceCurrency": "EUR"},
    }


def _microdata(sku: str, name: str, price: str | None = None, extra: str = "") -> str:
    offer = (
        f'<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        f'<meta itemprop="price" content="{price}"><meta itemprop="priceCurrency" '
        f'content="EUR"></div>'
        if price
        else ""
    )
    return (
        f'<div itemscope itemtype="https://schema.org/Product"><h2 itemprop="name">{name}</h2>'
        f'<meta itemprop="sku" content="{sku}">{offer}{extra}</div>'
    )


def test_a_page_with_jsonld_and_microdata_imports_both() -> None:
    """10 products in JSON-LD and 1 other in microdata: 11, none lost to the first format."""
    ld = _jsonld({"@context": "https://schema.org", "@graph": [_ld_product(n) for n in range(10)]})
    page = f"<html><head>{ld}</head><body>{_microdata('MD-1', 'Vase', '25')}</body></html>"
    found = extract_products(page, BASE)
    assert sorted(p.retailer_id or "" for p in found.products) == sorted(
        [f"LD-{n}" for n in range(10)] + ["MD-1"]
    )
    assert found.method == "json-ld+microdata"
    vase = next(p for p in found.products if p.retailer_id == "MD-1")
    assert vase.evidence["price_amount"] == Evidence("microdata", 0.9)


def test_formats_describing_one_product_are_merged_field_by_field() -> None:
    """JSON-LD without a price, microdata with it, OpenGraph with the image: one product."""
    ld = _jsonld({"@type": "Product", "sku": "K-1", "name": "Kettle", "description": "Steel"})
    micro = _microdata("K-1", "Kettle", "39.90")
    rdfa = (
        '<div vocab="https://schema.org/" typeof="Product"><span property="name">Kettle</span>'
        '<span property="sku">K-1</span><link property="availability" '
        'href="https://schema.org/OutOfStock"></div>'
    )
    og = (
        '<meta property="og:type" content="product"><meta property="og:title" content="Kettle">'
        '<meta property="og:image" content="https://cdn.example.com/k.jpg">'
    )
    found = extract_products(f"<html><head>{ld}{og}</head><body>{micro}{rdfa}</body></html>")
    assert len(found.products) == 1
    record = to_record(found.products[0], "s1", BASE)
    assert isinstance(record, ProductRecord)
    assert (record.name, record.retailer_id, record.price, record.currency) == (
        "Kettle",
        "K-1",
        Decimal("39.9"),
        "EUR",
    )
    assert record.availability == Availability.OUT_OF_STOCK
    assert record.image_urls == ("https://cdn.example.com/k.jpg",)
    evidence = found.products[0].evidence
    assert evidence["name"].source == "json-ld"
    assert evidence["price_amount"].source == "microdata"
    assert evidence["availability"].source == "rdfa"


def test_variants_with_their_own_skus_are_not_merged_by_name() -> None:
    ld = _jsonld([{**_ld_product(1), "name": "Shirt"}, {**_ld_product(2), "name": "Shirt"}])
    assert [p.retailer_id for p in extract_products(ld).products] == ["LD-1", "LD-2"]


def test_text_fields_are_clean_text() -> None:
    ld = _jsonld(
        {
            "@type": "Product",
            "sku": "E-1",
            "name": "Echo &amp;amp; Dot",
            "description": "<p><strong>Second Generation</strong> speaker</p><br>With&nbsp;Alexa",
        }
    )
    record = to_record(extract_products(ld).products[0], "s1", BASE)
    assert isinstance(record, ProductRecord)
    assert record.name == "Echo & Dot"
    assert record.description == "Second Generation speaker With Alexa"
    assert clean_text("a < b and 3 > 2", 100) == "a < b and 3 > 2"


def test_a_page_without_structured_data_is_read_like_a_shopper_reads_it() -> None:
    """Heading, the price nearest it (not the struck-out one nor a related product's),
    the stock line in the page's language, the sku label."""
    page = """<html><head><title>Wasserkocher Edelstahl 1,7 l | Beispiel-Shop</title></head>
    <body><nav><h1>Beispiel-Shop</h1></nav>
    <div class="product"><h1 class="product-title">Wasserkocher Edelstahl 1,7 l</h1>
      <div class="price-box"><del class="price">49,99 €</del>
      <span class="price special-price">39,99 €</span></div>
      <p>Art.-Nr.: WK-1700</p>
      <div class="availability">Sofort lieferbar, auf Lager</div>
      <button class="btn" name="add">In den Warenkorb</button></div>
    <div class="related-products"><span class="price">12,00 €</span>
    <span class="price">12,00 €</span><span class="price">12,00 €</span></div>
    </body></html>"""
    found = page_product(page, "https://shop.example.de/wasserkocher")
    assert found is not None
    assert (found.name, found.price, found.currency, found.sku, found.availability) == (
        "Wasserkocher Edelstahl 1,7 l",
        Decimal("39.99"),
        "EUR",
        "WK-1700",
        "InStock",
    )
    assert found.evidence["price_text"].startswith("page:")


def test_sold_out_words_and_embedded_state() -> None:
    state = {"props": {"pageProps": {"product": {"title": "Tenis Runner", "price": 299.9}}}}
    page = f"""<html><body><h1>Tenis Runner</h1>
    <p class="stock-status">Agotado</p>
    <script id="__NEXT_DATA__" type="application/json">{json.dumps(state)}</script>
    </body></html>"""
    found = page_product(page, "https://tienda.example/tenis")
    assert found is not None
    assert (found.price, found.availability) == (Decimal("299.9"), "OutOfStock")
    assert found.evidence["price_text"] == "state:0.65"
    window_state = """<html><body><h1>Mesa de centro</h1><script>
    window.__INITIAL_STATE__ = {"item": {"name": "Mesa de centro", "salePrice": "1.299,00",
    "sku": "MC-9"}};</script></body></html>"""
    found = page_product(window_state)
    assert found is not None and (found.price, found.sku) == (Decimal("1299"), "MC-9")


def test_loose_itemprops_and_data_attributes() -> None:
    page = """<html><body><h1>Brass Lamp</h1><span itemprop="sku">BL-2</span>
    <div class="buy" data-price="59.00">Buy</div></body></html>"""
    found = page_product(page)
    assert found is not None and (found.sku, found.price) == ("BL-2", Decimal("59"))


def test_a_weak_price_stays_unparsed() -> None:
    """The only price-looking text is a struck-out one: imported without a price."""
    page = """<html><body><h1>Old Chair</h1><del class="price">80 EUR</del>
    <button>Add to cart</button></body></html>"""
    [raw] = extract_products(page, BASE).products
    assert raw.evidence["price_text"].confidence < 0.5
    record = to_record(raw, "s1", BASE)
    assert isinstance(record, ProductRecord)
    assert record.price is None and record.price_unparsed and record.price_raw == "80 EUR"
    strong = RawProduct(name="x", retailer_id="r", price_text="80 EUR")
    strong.evidence["price_text"] = Evidence("page", 0.8)
    assert to_record(strong, "s1", BASE).price == Decimal("80")  # type: ignore[union-attr]


def test_machine_amounts_keep_their_decimal_point() -> None:
    """schema.org writes "2.449" for two and a bit, never two thousand."""
    found = extract_products(_jsonld({**_ld_product(1), "offers": {"price": "2.449"}}))
    assert to_record(found.products[0], "s", BASE).price == Decimal("2.449")  # type: ignore[union-attr]


def test_breadcrumbs_are_not_product_links() -> None:
    crumbs = {
        "@type": "BreadcrumbList",
        "itemListElement": [{"@type": "ListItem", "position": 1, "item": "https://s.example/"}],
    }
    found = extract_products(_jsonld([crumbs, _ld_product(1)]))
    assert found.links == [] and len(found.products) == 1


def test_every_product_on_a_page_is_imported_or_skipped_with_a_reason(
    settings: Settings, server: TestServer
) -> None:
    """Products in (three formats, some unusable) = products out + skipped."""
    ld = [_ld_product(n) for n in range(6)]
    ld.append({"@type": "Product", "sku": "NO-NAME", "offers": {"price": "1"}})
    ld.append({"@type": "Product", "name": "No id and no url"})
    ld.append(_ld_product(0))  # the same product twice in one format
    micro = _microdata("MD-1", "Vase", "25") + _microdata("MD-2", "", "3")
    page = f"<html><head>{_jsonld(ld)}</head><body>{micro}</body></html>"
    server.route("/shop", Reply(body=page.encode(), headers={"Content-Type": "text/html"}))
    catalog = settings.with_overrides(catalog={"verify_images": False}).catalog
    seen = extract_products(page, server.url("/shop")).products

    async def scrape() -> object:
        async with CatalogSources(catalog) as sources:
            return await sources.scrape(server.url("/shop"), "s1", SourceKind.STOREFRONT)

    result = asyncio.run(scrape())
    products, skipped = result.products, result.skipped  # type: ignore[attr-defined]
    assert len(seen) == 10  # 6 + 2 unusable in JSON-LD (the twin merged), 2 in microdata
    assert len(products) + len(skipped) == len(seen)
    assert len(products) == 8  # 6 lamps, the vase, and the nameless-id one has a page URL
    reasons = sorted(s.reason for s in skipped)
    assert reasons == ["product has no name", "product has no name"]
