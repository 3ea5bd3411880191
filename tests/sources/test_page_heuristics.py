"""Each heuristic of the product-page reader on a small page written for it: the sku the
page shows (labels, cart fields, named elements, scripts, ids, /dp/ URLs), variants read
as one product, the main product among carousels, the price nearest the heading in the
document tree, secondary prices, the heading outside the navigation, cart controls."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from pipeline.sources.html_doc import parse_page
from pipeline.sources.page_price import page_price
from pipeline.sources.page_product import page_product
from pipeline.sources.page_signals import main_heading
from pipeline.sources.page_sku import page_sku
from pipeline.sources.storefront_extract import extract_products

URL = "https://shop.example.org/item/7"


def _ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _page(body: str, head: str = "<title>Desk lamp Nova</title>") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def _sku(body: str, url: str = URL, head: str = "<title>Desk lamp Nova</title>") -> str | None:
    page = parse_page(_page(body, head))
    anchor, _ = main_heading(page)
    found = page_sku(page, anchor, url)
    return found[0] if found else None


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("<p>SKU: NV-2040</p>", "NV-2040"),
        ("<p>Item No. PU_1061/01</p>", "PU_1061/01"),
        ("<li><strong>Product Code - </strong>39139</li>", "39139"),
        ("<p>Art.-Nr.: WK-1700</p>", "WK-1700"),
        ("<span>Réf. 3697/272</span>", "3697/272"),
        ("<table><tr><th>Kód produktu:</th><td>VR4V1B</td></tr></table>", "VR4V1B"),
        ("<p>Код товара: 01245</p>", "01245"),
        ("<p>Šifra: 0638</p>", "0638"),
        ("<div>AD ID 1024643</div>", "1024643"),
    ],
)
def test_a_labelled_code_is_the_sku(snippet: str, expected: str) -> None:
    assert _sku(f"<h1>Desk lamp Nova</h1>{snippet}") == expected


def test_a_label_followed_by_words_is_not_a_code() -> None:
    """ "Código postal: 28001" names a postcode; "Kód: PC APPLE ..." a description."""
    body = "<h1>Desk lamp Nova</h1><p>Código postal 28001</p><p>Kód: PC APPLE MQ2</p>"
    assert _sku(body) is None


def test_the_label_nearest_the_heading_wins() -> None:
    body = (
        "<div><h1>Desk lamp Nova</h1><p>SKU: NEAR-1</p></div>"
        + "<p>filler</p>\n" * 60
        + "<footer><p>SKU: FAR-2</p></footer>"
    )
    assert _sku(body) == "NEAR-1"


def test_the_cart_forms_sku_field_beats_a_makers_reference() -> None:
    body = (
        "<h1>Desk lamp Nova</h1><p>Référence: MK-5521</p>"
        '<form><input type="hidden" name="sku" value="SHOP-881"><button>Add to cart</button></form>'
    )
    assert _sku(body) == "SHOP-881"


def test_an_element_named_for_the_code_gives_it() -> None:
    body = '<h1>Desk lamp Nova</h1><p>Black - <span data-qa="product-reference">1002/710</span></p>'
    assert _sku(body) == "1002/710"


def test_the_sku_a_script_names_most_often() -> None:
    script = (
        '<script>var meta = {"product": {"variants": [{"sku": "4411"}]}};'
        'track({"sku": "4411"}); other({"sku": "9000"});</script>'
    )
    assert _sku(f"<h1>Desk lamp Nova</h1>{script}") == "4411"


def test_a_product_id_attribute_nearest_the_heading() -> None:
    cards = "".join(f'<li data-product-id="77{n}">Other</li>' for n in range(3))
    body = (
        f'<div><h1>Desk lamp Nova</h1><button data-pid="5150">Add</button></div>'
        f"{'<p>x</p>' * 30}<ul class='others'>{cards}</ul>"
    )
    assert _sku(body) == "5150"


def test_an_asin_from_a_dp_url() -> None:
    head = (
        '<title>Desk lamp Nova</title><link rel="canonical" href="https://m.example/dp/B0ABCD1234">'
    )
    assert _sku("<h1>Desk lamp Nova</h1>", url="", head=head) == "B0ABCD1234"
    assert _sku("<h1>Desk lamp Nova</h1>", url="https://m.example/dp/lamp") is None


def test_structured_ids_case_blind_and_in_order() -> None:
    """productId counts like productID; sku before it, it before mpn, mpn before GTIN."""
    base = {"@type": "Product", "name": "Lamp", "offers": {"price": "10"}}
    ids = {"productId": "P-1", "mpn": "M-1", "gtin13": "4006381333931"}
    assert extract_products(_ld({**base, **ids})).products[0].retailer_id == "P-1"
    assert extract_products(_ld({**base, **ids, "sku": "S-1"})).products[0].retailer_id == "S-1"
    only_gtin = {**base, "gtin13": "4006381333931"}
    assert extract_products(_ld(only_gtin)).products[0].retailer_id == "4006381333931"


def test_a_microdata_identifier_is_its_first_line() -> None:
    page = _page(
        '<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Chair</h1>'
        '<span itemprop="productID">\n  TE50-1293\n  Chair cover\n</span>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<meta itemprop="price" content="20"></div></div>'
    )
    assert extract_products(page).products[0].retailer_id == "TE50-1293"


def _variant(sku: str, price: str, stock: str) -> dict[str, object]:
    return {
        "@type": "Product",
        "name": "Trail boot",
        "sku": sku,
        "offers": {"@type": "Offer", "price": price, "availability": f"https://schema.org/{stock}"},
    }


def test_sizes_listed_as_products_are_read_as_one_product() -> None:
    """In stock when any size is; the lowest price in stock; every size still imported;
    with no code on the page, the first size's sku (kept weak: a code the page shows wins)."""
    ld = _ld(
        [
            _variant("B-38", "59.00", "OutOfStock"),
            _variant("B-39", "69.00", "InStock"),
            _variant("B-40", "65.00", "InStock"),
        ]
    )
    page = _page(f"<h1>Trail boot</h1>{ld}")
    assert len(extract_products(page, URL).products) == 3
    found = page_product(page, URL)
    assert found is not None
    assert (found.price, found.availability, found.sku) == (Decimal("65"), "InStock", "B-38")


def test_the_code_a_variant_page_shows_beats_one_sizes_sku() -> None:
    ld = _ld([_variant("B-38", "59.00", "InStock"), _variant("B-39", "59.00", "InStock")])
    body = f'<h1>Trail boot</h1><span class="product-ref">1002/710</span>{ld}'
    found = page_product(_page(body), URL)
    assert found is not None and found.sku == "1002/710"


def test_a_product_group_with_variants() -> None:
    group = {
        "@type": "ProductGroup",
        "name": "Linen shirt",
        "productGroupID": "LS-100",
        "hasVariant": [
            {
                "@type": "Product",
                "sku": "LS-100-S",
                "offers": {"price": "30", "availability": "OutOfStock"},
            },
            {
                "@type": "Product",
                "sku": "LS-100-M",
                "offers": {"price": "32", "availability": "InStock"},
            },
        ],
    }
    [raw] = extract_products(_ld(group)).products
    assert (raw.name, raw.retailer_id, raw.price_amount, raw.availability) == (
        "Linen shirt",
        "LS-100",
        "32",
        "InStock",
    )


def test_no_variant_in_stock_is_out_of_stock_at_the_lowest_price() -> None:
    ld = _ld([_variant("B-38", "59.00", "OutOfStock"), _variant("B-39", "49.00", "OutOfStock")])
    found = page_product(_page(f"<h1>Trail boot</h1>{ld}"), URL)
    assert found is not None and (found.price, found.availability) == (Decimal("49"), "OutOfStock")


def test_the_main_product_among_a_carousel_is_filled_from_the_page() -> None:
    """Microdata for the page's product and for related ones: the one named like the
    heading gets the stock line and sku the page shows; the others are left alone."""

    def item(name: str, price: str) -> str:
        return (
            '<div itemscope itemtype="https://schema.org/Product">'
            f'<span itemprop="name">{name}</span>'
            f'<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            f'<meta itemprop="price" content="{price}"></div></div>'
        )

    body = (
        f"<h1>Reading lamp Orla</h1>{item('Reading lamp Orla', '45')}"
        '<p class="stock-status">Out of stock</p><p>SKU: RL-88</p>'
        f'<div class="others">{item("Floor lamp", "99")}{item("Bulb", "4")}</div>'
    )
    found = extract_products(_page(body, "<title>Reading lamp Orla | Shop</title>"), URL)
    assert len(found.products) == 3
    main = found.main
    assert main is not None and (main.name, main.retailer_id, main.availability) == (
        "Reading lamp Orla",
        "RL-88",
        "OutOfStock",
    )
    others = [p for p in found.products if p is not main]
    assert all(p.retailer_id is None and p.availability is None for p in others)


def test_a_structured_sku_nobody_sees_gives_way_to_a_labelled_one() -> None:
    """JSON-LD names an sku that appears nowhere in the page's text; the page labels
    another code: the shopper's code wins. Shown on the page, the structured one stays."""
    ld = _ld({"@type": "Product", "name": "Kettle", "sku": "IMG-2388", "offers": {"price": "9"}})
    unseen = page_product(_page(f"<h1>Kettle</h1><p>Product code: 3913930</p>{ld}"), URL)
    assert unseen is not None and unseen.sku == "3913930"
    body = f"<h1>Kettle</h1><p>Product code: 3913930</p><p>Model IMG-2388</p>{ld}"
    seen = page_product(_page(body), URL)
    assert seen is not None and seen.sku == "IMG-2388"


def _price(body: str, head: str = "<title>Desk lamp Nova</title>") -> str | None:
    page = parse_page(_page(body, head))
    anchor, _ = main_heading(page)
    found = page_price(page, anchor)
    return found[0] if found else None


def test_the_price_in_the_headings_block_wins_on_a_minified_page() -> None:
    """One line (source lines say nothing) and no class words on the other cards, which
    come first: the price sharing the heading's block beats theirs."""
    cards = "".join(
        f'<div class="card"><a href="/p/{n}">Other lamp</a><span class="price">15,00 €</span></div>'
        for n in range(4)
    )
    body = (
        f'<div class="strip"><div class="row">{cards}</div></div>'
        '<div class="main"><div class="info"><h1>Desk lamp Nova</h1>'
        '<div class="buy"><span class="price">39,90 €</span></div></div></div>'
    )
    assert _price(body) == "39,90 €"


def test_a_price_before_tax_loses_to_the_price() -> None:
    body = (
        "<div><h1>Desk lamp Nova</h1><ul>"
        '<li class="price-tax">Excl. VAT: 32,70 €</li><li class="price">39,90 €</li></ul></div>'
    )
    assert _price(body) == "39,90 €"


def test_variant_swatch_prices_lose_to_the_products_price() -> None:
    body = (
        '<div><h1>Desk lamp Nova</h1><div class="size-swatch"><button>'
        '<span class="price">29,00 €</span></button></div>'
        '<div class="offer"><span class="price">34,00 €</span></div></div>'
    )
    assert _price(body) == "34,00 €"


def test_a_new_price_beats_the_old_one_beside_it() -> None:
    """The old price is repeated in attributes nobody sees (a buy link's data-price):
    repetition counts only for copies the shopper sees."""
    box = (
        '\n<div class="box"><span class="price-old">54,00 €</span>'
        '\n<span class="price-new">27,00</span>'
        '\n<a class="cta" data-price="54,00 €">Buy</a></div>'
    )
    assert _price(f"<div><h1>Desk lamp Nova</h1>{box}{box}</div>") == "27,00"


def test_a_price_attribute_holding_a_url_is_not_an_amount() -> None:
    body = (
        '<div><h1>Desk lamp Nova</h1><span class="product-price" '
        'data-price-alert="/alerts/notice-987929-price">Alert me</span>'
        "<span class='price'>12,50</span></div>"
    )
    assert _price(body) == "12,50"


def test_a_price_named_by_a_test_hook_where_classes_are_hashed() -> None:
    body = (
        '<section class="_2wMiF"><span data-aut-id="itemPrice" class="_2xKfz">Rs 23,450</span>'
        '<span class="_18gRm">2010 - 89,000 km</span>'
        '<h1 class="_3rJ6e">Desk lamp Nova</h1></section>'
    )
    assert _price(body) == "Rs 23,450"


def test_a_price_in_another_currency_loses() -> None:
    body = (
        '<div><h1>Desk lamp Nova</h1><span class="price">GBP 30.00</span>'
        '<span class="price">35,00 €</span></div>'
    )
    page = parse_page(_page(body))
    anchor, _ = main_heading(page)
    in_euro = page_price(page, anchor, "EUR")
    in_pounds = page_price(page, anchor, "GBP")
    assert in_euro is not None and in_euro[0] == "35,00 €"
    assert in_pounds is not None and in_pounds[0] == "GBP 30.00"


def test_a_heading_in_the_navigation_is_not_the_products_name() -> None:
    """The page title names neither: the h1 outside the nav is the product."""
    page = parse_page(
        _page(
            '<div class="category-nav"><h1 class="nav-title">Health services</h1></div>'
            "<main><h1>Custom insoles</h1></main>",
            "<title>Clinic shop - wellbeing for all</title>",
        )
    )
    _, heading = main_heading(page)
    assert heading is not None and heading.value == "Custom insoles"


def test_a_disabled_cart_button_is_not_sold_out() -> None:
    """Shops disable it until a size is chosen; a sold-out page says so in words."""
    waiting = (
        '<h1>Runner</h1><span class="price">€ 80</span>'
        '<button class="add-to-cart" disabled>Add to cart</button>'
    )
    found = page_product(_page(waiting, "<title>Runner</title>"), URL)
    assert found is not None and found.availability == "InStock"
    sold = waiting + '<p class="availability">Sold out</p>'
    found = page_product(_page(sold, "<title>Runner</title>"), URL)
    assert found is not None and found.availability == "OutOfStock"


def test_a_label_before_a_long_run_of_whitespace_is_read_in_linear_time() -> None:
    """A hostile page: "SKU" then 200,000 spaces. Matched on the raw text the label
    pattern backtracks for as long as the run squared (minutes); the reader collapses
    whitespace first."""
    page = parse_page(_page("<h1>Desk lamp Nova</h1><p>SKU" + " " * 200_000 + "x</p>"))
    anchor, _ = main_heading(page)
    started = time.process_time()
    assert page_sku(page, anchor, URL) is None
    assert time.process_time() - started < 2.0
