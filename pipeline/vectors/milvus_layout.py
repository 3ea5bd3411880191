"""Where the product vectors live in Milvus: one collection or one per vector kind.

Milvus allows one vector field per collection before 2.4 ("multiple vector fields is not
supported"), nullable fields only from 2.5, and INVERTED scalar indexes from 2.4. So:

* ``combined``: one collection with ``image_vector`` and ``text_vector`` (Milvus >= 2.4,
  Milvus Lite). A row is one entity: writes are atomic per product.
* ``split``: ``<name>`` holds the image vector, ``<name>_text`` the text vector, both with
  every scalar field, so either search filters without a join (Milvus 2.3 and anything
  whose version we cannot read). A product is written to both; a crash between the two
  writes leaves it in one, which :meth:`fetch` reports as missing, so the stage that
  wrote it does it again (both writes are idempotent upserts).

An existing collection keeps the layout it was created with; a new one gets the layout
the server's version allows. Servers without nullable fields store a missing price as
``-1`` and a missing currency as ``""`` (prices are never negative, currencies are three
capital letters), and reads turn them back into None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from pipeline.vectors.milvus_schema import VECTOR_FIELDS

LAYOUTS = ("auto", "combined", "split")
NO_PRICE = -1.0
NO_CURRENCY = ""
_VERSION = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class Layout:
    """The collections of one store and what their server supports."""

    kind: str  # "combined" or "split"
    collections: dict[str, str]  # vector field -> collection holding it
    nullable: bool  # the server stores NULL prices and currencies
    scalar_index: bool  # INVERTED indexes on seller_id and status
    reason: str

    @property
    def names(self) -> tuple[str, ...]:
        """Each collection once, the image collection (the one counted) first."""
        return tuple(dict.fromkeys(self.collections[f] for f in VECTOR_FIELDS))

    def fields_of(self, collection: str) -> tuple[str, ...]:
        return tuple(f for f in VECTOR_FIELDS if self.collections[f] == collection)


def server_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from a GetVersion answer such as ``v2.3.5-lite``; None for Milvus
    Lite (``milvus_lite-3.2.2``: its own numbering) or anything unreadable."""
    if text.startswith("milvus_lite"):
        return None
    found = _VERSION.search(text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def split_names(collection: str) -> dict[str, str]:
    return {"image_vector": collection, "text_vector": f"{collection}_text"}


def choose_layout(
    requested: str,
    *,
    collection: str,
    lite: bool,
    version_text: str,
    existing_fields: dict[str, dict[str, Any]] | None,
) -> Layout:
    """The layout for ``collection``: the existing one's, else ``requested`` (``auto``:
    what the server version allows).

    ``existing_fields`` maps field name to its description when the collection exists.
    Raises ConfigError when ``requested`` contradicts an existing collection or the server.
    """
    if requested not in LAYOUTS:
        raise ConfigError(f"layout must be one of {LAYOUTS}, got {requested!r}")
    version = server_version(version_text)
    modern = lite or (version is not None and version >= (2, 4))
    nullable = lite or (version is not None and version >= (2, 5))
    if existing_fields is not None:
        kind = "combined" if all(f in existing_fields for f in VECTOR_FIELDS) else "split"
        price = existing_fields.get("price", {})
        nullable = bool(price.get("nullable") or price.get("params", {}).get("nullable"))
        reason = f"collection {collection!r} exists with that layout"
        if requested not in ("auto", kind):
            raise ConfigError(
                f"layout {requested} asked, but collection {collection!r} exists as {kind}"
            )
    elif requested == "auto":
        kind = "combined" if modern else "split"
        where = "Milvus Lite" if lite else f"Milvus {version_text or 'of unknown version'}"
        reason = (
            f"{where} allows two vector fields in one collection"
            if modern
            else f"{where} allows one vector field per collection (two need 2.4)"
        )
    else:
        if requested == "combined" and not modern:
            raise ConfigError(
                f"the combined layout needs Milvus >= 2.4, the server is {version_text!r}"
            )
        kind, reason = requested, f"the {requested} layout was asked for"
    names = (
        dict.fromkeys(VECTOR_FIELDS, collection) if kind == "combined" else split_names(collection)
    )
    return Layout(kind, names, nullable, scalar_index=modern, reason=reason)


def encode_nulls(entity: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """The entity as the layout's server stores it (sentinels where NULL is not allowed)."""
    if layout.nullable:
        return entity
    out = dict(entity)
    if out.get("price") is None:
        out["price"] = NO_PRICE
    if out.get("currency") is None:
        out["currency"] = NO_CURRENCY
    return out


def decode_nulls(entity: dict[str, Any]) -> dict[str, Any]:
    """Sentinels back to None (harmless on servers that store NULL)."""
    out = dict(entity)
    price = out.get("price")
    if price is not None and float(price) < 0:
        out["price"] = None
    if out.get("currency") == NO_CURRENCY:
        out["currency"] = None
    return out
