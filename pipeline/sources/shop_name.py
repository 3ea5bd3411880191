"""What a shop calls itself, where its catalog says it: a page's ``og:site_name`` (else
``application-name``), the ``name`` of Shopify's ``/meta.json`` or of WordPress's
``/wp-json/`` index. The scrape stage writes it into the seller's profile as the display
name, unless the operator set one (``sellers set``). Never raises: a shop that does not
say its name leaves the profile as it is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pipeline.errors import CatalogSyncError
from pipeline.fetch import SafeFetcher
from pipeline.seller_contact import MAX_NAME_CHARS
from pipeline.sources.normalize import clean_text

logger = logging.getLogger(__name__)

JSON_ACCEPT = "application/json"
NAME_KEYS = ("og:site_name", "application-name")
_HEAD_CHARS = 300_000
# Quoted attribute values may hold "<" and ">"; bounded so a broken tag cannot run on.
_META = re.compile(r"""<meta\b(?:[^<>"']|"[^"]{0,2000}"|'[^']{0,2000}'){0,400}>""", re.I)
_ATTR = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")


def clean_name(value: Any) -> str | None:
    """A shop name as shoppers should see it (tags stripped, entities decoded, spaces
    collapsed, at most ``MAX_NAME_CHARS``); None for anything else."""
    if not isinstance(value, str):
        return None
    name = clean_text(value, MAX_NAME_CHARS)
    return name if name and name.isprintable() else None


def page_site_name(page: str) -> str | None:
    """The site name a page's ``<head>`` declares, or None."""
    head = page[:_HEAD_CHARS]
    end = head.lower().find("</head>")
    found: dict[str, str] = {}
    for tag in _META.finditer(head if end < 0 else head[:end]):
        attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag.group(0))}
        key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
        if key in NAME_KEYS and key not in found:
            found[key] = attrs.get("content", "")
    for key in NAME_KEYS:
        name = clean_name(found.get(key))
        if name:
            return name
    return None


async def json_name(fetcher: SafeFetcher, url: str) -> str | None:
    """The ``name`` of the JSON object at ``url``, or None when there is none (or the
    request fails: the name is worth no failed sync)."""
    try:
        data = (await fetcher.fetch(url, accept=JSON_ACCEPT)).json()
    except CatalogSyncError as exc:
        logger.info("no shop name from %s: %s", url[:200], exc)
        return None
    return clean_name(data.get("name")) if isinstance(data, dict) else None
