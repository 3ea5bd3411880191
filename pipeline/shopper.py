"""What a shopper needs on a search hit to act on it: stock, the product's page, who
sells it and how to reach them.

``contact_url`` is ``https://wa.me/<number>?text=<the product's name>`` for a seller
with a WhatsApp number (the chat opens with the product named), else the product's page
at the seller, else the shop's URL. Seller fields are looked up when a response is
built, not cached with the hits, so ``catalog-sync sellers set`` shows at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

T = TypeVar("T")

# seller ids -> {seller id: {display_name, whatsapp, shop_url}} for those that have any
ContactLookup = Callable[[set[str]], Mapping[str, Mapping[str, str]]]


class ShopperHit(Protocol):
    name: str
    seller_id: str
    availability: str
    product_url: str | None
    seller_name: str | None
    contact_url: str | None
    contact_kind: str | None


def web_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) address a browser can open, else None."""
    return url if url and url.startswith(("https://", "http://")) else None


def whatsapp_chat_url(number: str, product_name: str) -> str:
    return f"https://wa.me/{number}?text={quote(product_name[:200], safe='')}"


def contact_for(
    product_name: str, product_url: str | None, contact: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(contact URL, kind: ``whatsapp`` | ``shop`` | None) for a hit."""
    number = contact.get("whatsapp")
    if number:
        return whatsapp_chat_url(number, product_name), "whatsapp"
    url = web_url(product_url) or web_url(contact.get("shop_url"))
    return (url, "shop") if url else (None, None)


def add_seller_fields(hits: Iterable[Any], lookup: ContactLookup | None) -> None:
    """Fill ``seller_name``, ``contact_url`` and ``contact_kind`` of each hit in place
    (one lookup for all of them)."""
    hits = list(hits)
    contacts = lookup({h.seller_id for h in hits}) if lookup is not None and hits else {}
    for hit in hits:
        contact = contacts.get(hit.seller_id, {})
        hit.seller_name = contact.get("display_name") or None
        hit.contact_url, hit.contact_kind = contact_for(hit.name, hit.product_url, contact)


def _own_availability(item: Any) -> str:
    return str(item.availability)


def in_stock_first(items: list[T], availability: Callable[[T], str] | None = None) -> list[T]:
    """Out-of-stock items after the others, each group in its ranked order (by default
    the items' own ``availability``)."""
    if availability is None:
        availability = _own_availability
    out = [i for i in items if availability(i) == "out_of_stock"]
    return [i for i in items if availability(i) != "out_of_stock"] + out
