"""Product feeds: CSV, TSV, JSON and JSON Lines, with Meta Commerce Manager and Google
Merchant Center columns (``id``/``offer_id``/``offerId``, ``title``, ``price`` as
``"9.99 USD"`` or ``{"value", "currency"}``, ``image_link``/``imageLink``,
``additional_image_link``, ``availability``, ``link`` ...; ``g:`` prefixes accepted).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import PermanentError
from pipeline.fetch import SafeFetcher
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import assemble, over_the_limit
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.normalize import RawProduct

logger = logging.getLogger(__name__)

FEED_EXTENSIONS = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".txt")
FEED_ACCEPT = "text/csv,text/tab-separated-values,application/json,application/x-ndjson,*/*;q=0.5"
MAX_FIELD = 100_000
_ALIASES = {
    "id": ("id", "offer_id", "offerid", "retailer_id", "sku", "item_group_id"),
    "name": ("title", "name", "product_name"),
    "description": ("description", "rich_text_description"),
    "price": ("sale_price", "price"),
    "currency": ("currency", "price_currency"),
    "image": ("image_link", "imagelink", "image_url", "image"),
    "images": ("additional_image_link", "additionalimagelinks", "additional_image_urls"),
    "availability": ("availability", "stock_status"),
    "link": ("link", "url", "product_url"),
}


def _key(name: str) -> str:
    name = name.strip().lower().removeprefix("\ufeff")
    return name.split(":", 1)[1] if name.startswith("g:") else name


def _pick(row: dict[str, Any], field: str) -> Any:
    for alias in _ALIASES[field]:
        value = row.get(alias)
        if value not in (None, "", []):
            return value
    return None


def _price(value: Any) -> tuple[Any, str | None]:
    """(amount or text, currency) from ``"9.99 USD"``, ``{"value","currency"}`` or a number."""
    if isinstance(value, dict):
        amount = value.get("value", value.get("amount"))
        currency = value.get("currency") or value.get("currencyCode")
        return amount, currency if isinstance(currency, str) else None
    return value, None


def row_to_raw(row: dict[str, Any]) -> RawProduct:
    """One feed row (any supported column naming) as a RawProduct."""
    row = {_key(str(k)): v for k, v in row.items() if isinstance(k, str)}
    sale, sale_currency = _price(row.get("sale_price"))
    amount, currency = _price(row.get("price")) if sale in (None, "") else (sale, sale_currency)
    extra = _pick(row, "images")
    if isinstance(extra, str):
        extra = [u.strip() for u in extra.replace("|", ",").split(",")]
    images = [_pick(row, "image")] + (extra if isinstance(extra, list) else [])
    text_price = amount if isinstance(amount, str) else None
    return RawProduct(
        name=_scalar(_pick(row, "name")),
        retailer_id=_scalar(_pick(row, "id")),
        description=_scalar(_pick(row, "description")),
        price_text=text_price,
        price_amount=None if text_price is not None else amount,
        currency=currency or _scalar(_pick(row, "currency")),
        image_urls=[u for u in images if isinstance(u, str)],
        availability=_scalar(_pick(row, "availability")),
        url=_scalar(_pick(row, "link")),
    )


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _json_rows(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("resources", "products", "items", "data", "entries"):
            if isinstance(data.get(key), list):
                return list(data[key])
        return [data]
    return []


def parse_feed(text: str, *, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a feed; ``fmt`` csv/tsv/json/jsonl, guessed from the content when None.
    Raises PermanentError for a feed that cannot be read at all."""
    stripped = text.lstrip("\ufeff \r\n\t")
    if fmt is None:
        if stripped.startswith("["):
            fmt = "json"
        elif stripped.startswith("{"):
            first_line = stripped.split("\n", 1)[0].strip()
            fmt = "jsonl" if first_line.endswith("}") and "\n{" in stripped else "json"
        else:
            header = stripped.split("\n", 1)[0]
            fmt = "tsv" if header.count("\t") > header.count(",") else "csv"
    if fmt == "json":
        try:
            rows = _json_rows(json.loads(stripped))
        except (ValueError, RecursionError) as exc:
            raise PermanentError(f"feed is not valid JSON: {exc}") from exc
        yield from (r for r in rows if isinstance(r, dict))
    elif fmt in ("jsonl", "ndjson"):
        for number, line in enumerate(stripped.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError):
                    logger.info("feed line %d is not JSON: skipped", number)
                    continue
                if isinstance(row, dict):
                    yield row
    else:
        csv.field_size_limit(MAX_FIELD)
        reader = csv.DictReader(io.StringIO(stripped), delimiter="\t" if fmt == "tsv" else ",")
        try:
            yield from reader
        except csv.Error as exc:
            raise PermanentError(f"feed is not valid {fmt.upper()}: {exc}") from exc


class FeedCatalogSource:
    """Reads a product feed over http(s). Raises PermanentError for an unreadable feed."""

    kind = SourceKind.FEED

    def __init__(self, catalog: CatalogSettings, fetcher: SafeFetcher) -> None:
        self.catalog = catalog
        self.fetcher = fetcher

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        result = await self.fetcher.fetch(url, accept=FEED_ACCEPT)
        path = urlsplit(result.final_url).path.lower()
        fmt = next((ext[1:] for ext in FEED_EXTENSIONS[:-1] if path.endswith(ext)), None)
        if fmt is None and "json" in result.content_type:
            fmt = "ndjson" if "ndjson" in result.content_type else "json"
        limit = self.catalog.max_products
        raws: list[RawProduct] = []
        rest = 0  # rows past the limit: counted (the body is here already), not read
        for row in parse_feed(result.text(), fmt=fmt):
            if len(raws) < limit:
                raws.append(row_to_raw(row))
            else:
                rest += 1
        skipped = []
        if rest:
            fate = "more products were not imported"
            skipped.append(
                over_the_limit(seller_id, result.final_url, rest, limit, "products", fate)
            )
        return await assemble(
            raws,
            seller_id=seller_id,
            source_url=result.final_url,
            skipped=skipped,
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            max_products=self.catalog.max_products,
        )
