"""The search page's controls in headless Chromium against the real app: suggestions while
typing (keyboard only), facet filters with counts, the sort menu, highlighted names and
"did you mean" after a typo."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.web.conftest import WebWorld

pytestmark = pytest.mark.slow

CARDS = "#results li.card"


def _search(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("#results[data-state=done]", state="attached")


def _names(page: Any) -> list[str]:
    names: list[str] = page.eval_on_selector_all(f"{CARDS} h3", "hs => hs.map(h => h.innerText)")
    return names


def test_highlighted_names_and_did_you_mean_after_a_typo(page: Any, web: WebWorld) -> None:
    page.goto("/search")
    _search(page, "walet")
    assert _names(page) and all("wallet" in name.lower() for name in _names(page))
    # The matched word is a <mark>, the rest plain text: no markup from the data.
    marks = page.eval_on_selector_all(f"{CARDS} h3 mark", "ms => ms.map(m => m.textContent)")
    assert marks and {m.lower() for m in marks} == {"wallet"}
    # rebuilt from the highlight, the name reads exactly as the seller wrote it
    ids = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.productId)")
    by_id = {p.pid: p.record.name for p in web.products.values()}
    assert _names(page) == [by_id[i] for i in ids]
    assert page.is_visible("#did-you-mean")
    assert "Did you mean wallet?" in page.inner_text("#did-you-mean")
    page.click("#did-you-mean button")
    page.wait_for_function("() => document.querySelector('#q').value === 'wallet'")
    page.wait_for_selector("#results[data-state=done]", state="attached")
    assert not page.is_visible("#did-you-mean")


def test_facets_show_counts_and_narrow_the_results(page: Any, web: WebWorld) -> None:
    page.goto("/search")
    _search(page, "wallet")
    assert page.is_visible("#facets")
    seller_buttons = page.locator('#facets [data-facet="seller_id"] button')
    assert seller_buttons.count() >= 2  # wallets from more than one shop
    label = seller_buttons.first.inner_text()
    seller = label.split(" (")[0]
    count = int(label.split("(")[1].rstrip(")"))
    seller_buttons.first.click()
    page.wait_for_function(f"() => document.querySelector('#seller').value === '{seller}'")
    page.wait_for_selector("#results[data-state=done]", state="attached")
    ids = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.productId)")
    sellers = {p.pid: p.record.seller_id for p in web.products.values()}
    shown = [sellers[i] for i in ids]
    assert shown and all(s == seller for s in shown)
    assert len(shown) == min(count, 12)
    # a price bucket sets the currency and the price range
    bucket = page.locator('#facets [data-facet="price"] button').first
    bucket.click()
    page.wait_for_selector("#results[data-state=done]", state="attached")
    assert page.input_value("#currency") != "" and page.input_value("#min-price") != ""


def test_sort_menu_orders_by_price(page: Any, web: WebWorld) -> None:
    page.goto("/search")
    page.select_option("#currency", "INR")
    _search(page, "wallet")
    page.select_option("#sort", "price_asc")
    page.wait_for_function("() => location.search.includes('sort=price_asc')")
    page.wait_for_selector("#results[data-state=done]", state="attached")
    ids = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.productId)")
    by_id = {p.pid: p.record.price for p in web.products.values()}
    prices = [by_id[i] or Decimal(0) for i in ids]
    assert len(prices) >= 2 and prices == sorted(prices)


def test_suggestions_by_keyboard(page: Any, web: WebWorld) -> None:
    page.goto("/search")
    page.wait_for_selector("html[data-ready=true]")
    page.focus("#q")
    page.keyboard.type("walle")
    page.wait_for_selector("#suggestions [role=option]")
    assert page.get_attribute("#q", "aria-expanded") == "true"
    first = page.inner_text("#suggestions [role=option] >> nth=0")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#q", "aria-activedescendant")
    assert active and page.get_attribute(f"#{active}", "aria-selected") == "true"
    page.keyboard.press("Enter")
    page.wait_for_selector("#results[data-state=done]", state="attached")
    assert page.input_value("#q") == first
    assert page.is_hidden("#suggestions")
    assert _names(page)
    # Escape closes the list and leaves the text alone
    page.fill("#q", "")
    page.keyboard.type("walle")
    page.wait_for_selector("#suggestions [role=option]")
    page.keyboard.press("Escape")
    assert page.is_hidden("#suggestions") and page.input_value("#q") == "walle"


def test_a_price_filters_in_the_shoppers_currency_by_default(browser: Any, web: WebWorld) -> None:
    context = browser.new_context(base_url=web.base_url, locale="hi-IN")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/search")
        page.wait_for_selector("html[data-ready=true]")
        assert page.input_value("#currency") == ""  # no price, no currency filter
        page.fill("#max-price", "3000")
        assert page.input_value("#currency") == "INR"  # India's, from the browser's language
        _search(page, "wallet")
        assert "currency=INR" in page.evaluate("() => location.search")
        ids = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.productId)")
        by_id = {p.pid: p.record for p in web.products.values()}
        assert ids and all(
            by_id[i].currency == "INR" and (by_id[i].price or 0) <= 3000 for i in ids
        )
        page.fill("#max-price", "")  # no price left: every currency again
        assert page.input_value("#currency") == ""
        # A currency the shopper chose stays when the price goes.
        page.select_option("#currency", "EUR")
        page.fill("#min-price", "5")
        page.fill("#min-price", "")
        assert page.input_value("#currency") == "EUR"
    finally:
        context.close()
    # A language whose region's currency the menu lacks guesses nothing: the API then
    # says the price was ignored rather than comparing yen with rupees.
    context = browser.new_context(base_url=web.base_url, locale="ja-JP")
    page = context.new_page()
    try:
        page.goto("/search")
        page.wait_for_selector("html[data-ready=true]")
        page.fill("#max-price", "3000")
        assert page.input_value("#currency") == ""
    finally:
        context.close()
