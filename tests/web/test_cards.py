"""Cards a shopper can act on, in Chromium at 1280 and 360 px: the product's link, the
seller's name, a WhatsApp chat naming the product (or the shop's link), stock badges;
on a phone two cards a row with the form folded after the first search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.records import Availability
from pipeline.sellers import RedisSellerDirectory
from tests.web.conftest import WebWorld

CARDS = "#results li.card"
INR_SHOP = "919876543210"
EUR_SHOP = "33612345678"


@pytest.fixture
def sellers(web: WebWorld) -> Iterator[RedisSellerDirectory]:
    directory = RedisSellerDirectory(web.deps.redis, web.settings.redis.keys)
    directory.upsert(INR_SHOP, display_name="Mumbai Crafts", whatsapp=INR_SHOP)
    directory.upsert(EUR_SHOP, display_name="Atelier Margot", shop_url="https://margot.example/")
    yield directory
    directory.delete(INR_SHOP)
    directory.delete(EUR_SHOP)


def open_page(browser: Any, web: WebWorld, width: int) -> Any:
    context = browser.new_context(base_url=web.base_url, viewport={"width": width, "height": 740})
    context.set_default_timeout(20_000)
    return context.new_page()


def search(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("#results[data-state=done]", state="attached")


@pytest.mark.parametrize("width", [1280, 360])
def test_card_links_the_product_names_the_seller_and_opens_a_chat(
    browser: Any, web: WebWorld, sellers: RedisSellerDirectory, width: int
) -> None:
    page = open_page(browser, web, width)
    try:
        page.goto("/search")
        search(page, "wallet orange leather")
        wallet = web.products["ravi-0004"]
        card = page.locator(f'{CARDS}[data-product-id="{wallet.pid}"]')
        link = card.locator("h3 a.product-link")
        assert link.get_attribute("href") == wallet.record.source_url
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert card.locator(".seller").inner_text() == "Sold by Mumbai Crafts"
        chat = card.locator("a.contact.whatsapp")
        assert chat.inner_text() == "Chat on WhatsApp" and chat.is_visible()
        assert chat.get_attribute("href") == (
            f"https://wa.me/{INR_SHOP}?text=Orange%20leather%20wallet%20%234"
        )
        # A seller without WhatsApp: a link to the product at the shop.
        euro = next(p for p in web.products.values() if p.record.seller_id == EUR_SHOP)
        search(page, euro.record.name)
        card = page.locator(f'{CARDS}[data-product-id="{euro.pid}"]')
        shop = card.locator("a.contact.shop")
        assert shop.inner_text() == "Visit the shop"
        assert shop.get_attribute("href") == euro.record.source_url
        assert card.locator(".seller").inner_text() == "Sold by Atelier Margot"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_out_of_stock_is_marked(browser: Any, web: WebWorld, width: int) -> None:
    gone = next(
        p for p in web.products.values() if p.record.availability is Availability.OUT_OF_STOCK
    )
    page = open_page(browser, web, width)
    try:
        page.goto("/search")
        search(page, gone.record.name)
        card = page.locator(f'{CARDS}[data-product-id="{gone.pid}"]')
        assert card.locator(".stock.out").inner_text() == "Out of stock"
        assert "out-of-stock" in (card.get_attribute("class") or "")
        badges = page.locator(f"{CARDS} .stock.out").count()
        cards = page.locator(CARDS).count()
        # Out-of-stock cards come after every in-stock one.
        outs = page.eval_on_selector_all(
            CARDS, "cs => cs.map(c => c.classList.contains('out-of-stock'))"
        )
        assert outs == sorted(outs) and badges <= cards
    finally:
        page.context.close()


def test_phone_layout_two_columns_and_folded_form(browser: Any, web: WebWorld) -> None:
    page = open_page(browser, web, 360)
    try:
        page.goto("/search")
        assert page.locator("#drop-zone").is_visible()
        search(page, "ceramic mug")
        boxes = page.eval_on_selector_all(
            CARDS, "cs => cs.slice(0, 2).map(c => c.getBoundingClientRect().toJSON())"
        )
        assert len(boxes) == 2
        assert abs(boxes[0]["top"] - boxes[1]["top"]) < 1  # side by side
        assert boxes[0]["width"] < 180 and boxes[1]["left"] > boxes[0]["left"]
        assert not page.locator("#drop-zone").is_visible()
        assert not page.locator(".filters").is_visible()
        assert boxes[0]["top"] < 740  # the first result starts on the first screen
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
        page.click("#refine")
        assert page.locator("#drop-zone").is_visible()
    finally:
        page.context.close()
