"""Seller names and contacts: set by the operator, filled by a catalog (never over the
operator's word), listed for every seller we hold products for. Real redis-server."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobType, ProductRecord
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import JobSettings
from pipeline.shopper import contact_for
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.stages.scrape import ScrapeHandler
from tests.keys import KEYS


def product(seller: str, retailer: str) -> ProductRecord:
    return ProductRecord(
        product_id=ProductRecord.make_id(seller, retailer),
        seller_id=seller,
        retailer_id=retailer,
        name=f"{retailer} item",
        price=Decimal("10"),
        currency="INR",
        source_url=f"https://shop.example/{retailer}",
    )


def test_operator_values_win_over_what_a_catalog_says(redis_client: redis.Redis) -> None:
    directory = RedisSellerDirectory(redis_client, KEYS)
    # A first sync fills an empty profile (and creates it).
    assert directory.fill_from_source(
        "919876543210", display_name="Mumbai Crafts", whatsapp="919876543210"
    ) == ["display_name", "whatsapp"]
    profile = directory.get("919876543210")
    assert profile is not None and profile.display_name == "Mumbai Crafts"
    # The operator renames the shop; the next sync says the old name again: ignored.
    directory.upsert("919876543210", display_name="Mumbai Crafts & Co")
    assert directory.fill_from_source("919876543210", display_name="Mumbai Crafts") == []
    # What the source filled and the operator left alone still follows the catalog.
    assert directory.fill_from_source("919876543210", whatsapp="919800000000") == ["whatsapp"]
    contact = directory.contacts({"919876543210", "nobody"})
    assert contact == {
        "919876543210": {"display_name": "Mumbai Crafts & Co", "whatsapp": "919800000000"}
    }
    # Bad values from a catalog are left out, not raised.
    assert directory.fill_from_source("s2", whatsapp="12", shop_url="javascript:alert(1)") == []


def test_contact_validation(redis_client: redis.Redis) -> None:
    directory = RedisSellerDirectory(redis_client, KEYS)
    with pytest.raises(PermanentError, match="WhatsApp number"):
        directory.upsert("s1", whatsapp="call me")
    with pytest.raises(PermanentError, match="shop URL"):
        directory.upsert("s1", shop_url="ftp://x")
    profile, _ = directory.upsert("s1", whatsapp="+55 (11) 98765-4321", shop_url="https://a.b/")
    assert profile.whatsapp == "5511987654321"
    profile, _ = directory.upsert("s1", whatsapp="")
    assert profile.whatsapp is None and profile.shop_url == "https://a.b/"


def test_contact_url_rules() -> None:
    url, kind = contact_for("Red mug & saucer", "https://x/p", {"whatsapp": "5511987654321"})
    assert (url, kind) == ("https://wa.me/5511987654321?text=Red%20mug%20%26%20saucer", "whatsapp")
    assert contact_for("m", "https://x/p", {"shop_url": "https://x/"}) == ("https://x/p", "shop")
    assert contact_for("m", None, {"shop_url": "https://x/"}) == ("https://x/", "shop")
    assert contact_for("m", "wa.me/c/1", {}) == (None, None)


def test_sellers_set_and_list_every_seller_with_products(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    RedisProductStore(redis_client, KEYS).put_many(
        [product("5511987654321", "a"), product("s9", "b")]
    )
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["sellers", "set", "s9", "--name", "Nine Shop", "--shop-url", "https://nine.example/"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    listed = runner.invoke(main, ["sellers", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = {r["seller_id"]: r for r in json.loads(listed.output)}
    # The WhatsApp seller has products and no profile: listed all the same.
    assert set(rows) == {"s9", "5511987654321"}
    assert rows["s9"]["display_name"] == "Nine Shop"
    assert rows["5511987654321"]["products"]["in_progress"] == 1
    text = runner.invoke(main, ["sellers", "list"], env=env).output
    assert "Nine Shop" in text and "5511987654321" in text


class CatalogSaying:
    """A scraper (our protocol) whose catalog names its seller."""

    def __init__(self, result: ScrapeResult) -> None:
        self.result = result

    async def scrape(self, url: str, seller_id: str, source: str) -> ScrapeResult:
        return self.result


def test_a_whatsapp_scrape_fills_the_sellers_name_and_number(redis_client: redis.Redis) -> None:
    url = "http://127.0.0.1:8000/c/5511987654321"
    said = ScrapeResult(source=SourceKind.WHATSAPP, url=url, seller_name="Loja da Ana")
    directory = RedisSellerDirectory(redis_client, KEYS)
    products = RedisProductStore(redis_client, KEYS)
    handler = ScrapeHandler(CatalogSaying(said), products, None, None, directory)  # type: ignore[arg-type]
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    payload = {"seller_id": "5511987654321", "catalog_url": url, "source": "auto"}
    ledger.enqueue(JobSpec(JobType.SCRAPE_CATALOG, payload, "5511987654321"))
    jobs = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
    (outcome,) = asyncio.run(handler.handle(jobs))
    assert outcome.error is None, outcome.error
    assert directory.contacts({"5511987654321"}) == {
        "5511987654321": {"display_name": "Loja da Ana", "whatsapp": "5511987654321"}
    }
