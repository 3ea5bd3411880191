"""One parse of a shop page (lxml) and everything structured in it, in one shape.

JSON-LD blocks come out parsed; microdata and RDFa items come out as JSON-LD-shaped dicts
(``{"@type": "Product", "name": ..., "offers": {...}}``) so one reader serves all three;
``<meta>`` tags by name/property; the JSON state frameworks embed (``__NEXT_DATA__``,
``application/json`` scripts, ``window.__INITIAL_STATE__ = {...}``) parsed. Nothing here
raises on any input: what does not parse is left out.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import lxml.etree
import lxml.html

logger = logging.getLogger(__name__)

MAX_SCRIPT_CHARS = 2_000_000
MAX_ITEMS = 5_000
MAX_DEPTH = 24
_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
_URL_ATTR = {
    "a": "href",
    "area": "href",
    "link": "href",
    "img": "src",
    "audio": "src",
    "video": "src",
    "source": "src",
    "iframe": "src",
    "embed": "src",
    "object": "data",
    "data": "value",
    "meter": "value",
    "time": "datetime",
}
# ``window.__INITIAL_STATE__ = {`` and its cousins: a global assigned a JSON literal.
_STATE_ASSIGN = re.compile(
    r"(?:window\.|var\s+|let\s+|const\s+)?(__[A-Za-z0-9_]+__)\s*=\s*(?=[{\[])"
)
_JS_PREFIXES = ("<!--", "//<![CDATA[", "<![CDATA[", "/*<![CDATA[*/")
# Identifier properties: an element's text is read to its first line, so a code followed
# by a label on the next line ("TE502955-1293415 <br> Housse de chaise") stays the code.
ID_PROPS = frozenset(
    {"sku", "productID", "mpn", "gtin", "gtin8", "gtin12", "gtin13", "gtin14", "productGroupID"}
)


@dataclass
class Page:
    """What :func:`parse_page` found. ``root`` is None when nothing parsed."""

    root: Any = None
    jsonld: list[Any] = field(default_factory=list)
    microdata: list[dict[str, Any]] = field(default_factory=list)
    rdfa: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)
    state: list[Any] = field(default_factory=list)
    jsonld_errors: int = 0


def _loads(text: str) -> Any:
    text = text.strip()
    for prefix in _JS_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = re.sub(r"(//\s*\]\]>|\]\]>|-->)\s*$", "", text.strip()).strip().rstrip(";")
    # strict=False: shops put raw newlines and tabs inside JSON strings.
    return json.loads(text, strict=False)


def _prop_name(raw: str) -> str:
    """``http://schema.org/price`` and ``schema:price`` are ``price``."""
    return raw.rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, its whitespace collapsed."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _value(el: Any, content_attr: str = "content", identifier: bool = False) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    if content_attr in el.attrib:
        return str(el.get(content_attr))
    attr = _URL_ATTR.get(tag)
    if attr and attr in el.attrib:
        return str(el.get(attr))
    if tag == "meta":
        return ""
    if identifier:
        return first_line(el.text_content())
    return " ".join(el.text_content().split())


def _items(root: Any, scope_attr: str, type_attr: str, prop_attr: str) -> list[dict[str, Any]]:
    """Microdata (itemscope/itemtype/itemprop) or RDFa (typeof/property) as dicts."""
    items: dict[Any, dict[str, Any]] = {}
    top: list[dict[str, Any]] = []
    for el in root.xpath(f"//*[@{scope_attr}]"):
        if len(items) >= MAX_ITEMS:
            break
        types = [_prop_name(t) for t in (el.get(type_attr) or "").split()]
        items[el] = {"@type": types[0] if len(types) == 1 else types}
    if not items:
        return top
    for el in root.xpath(f"//*[@{prop_attr}]"):
        owner = _owner(el, items)
        if owner is None:
            continue
        for prop in (el.get(prop_attr) or "").split():
            name = _prop_name(prop)
            value: Any = items[el] if el in items else _value(el, identifier=name in ID_PROPS)
            items[owner].setdefault(name, []).append(value)
    for el, item in items.items():
        if prop_attr not in el.attrib or _owner(el, items) is None:
            top.append(item)
    return [_flatten(item) for item in top]


def _owner(el: Any, items: dict[Any, dict[str, Any]]) -> Any:
    owner = el.getparent()
    while owner is not None and owner not in items:
        owner = owner.getparent()
    return owner


def _flatten(item: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Single values unwrapped from their lists, nested items flattened too."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if depth < MAX_DEPTH and isinstance(value, list):
            values = [_flatten(v, depth + 1) if isinstance(v, dict) else v for v in value]
            out[key] = values[0] if len(values) == 1 else values
        else:
            out[key] = value
    return out


def _state_blocks(root: Any) -> list[Any]:
    out: list[Any] = []
    for script in root.iter("script"):
        kind = (script.get("type") or "").strip().lower()
        text = script.text or ""
        if not text or len(text) > MAX_SCRIPT_CHARS:
            continue
        if kind == "application/json" or script.get("id") == "__NEXT_DATA__":
            try:
                out.append(_loads(text))
            except (ValueError, RecursionError):
                continue
        elif kind in ("", "text/javascript", "module") and "__" in text:
            decoder = json.JSONDecoder(strict=False)
            for match in _STATE_ASSIGN.finditer(text):
                try:
                    value, _ = decoder.raw_decode(text, match.end())
                except (ValueError, RecursionError):
                    continue
                out.append(value)
    return out


def parse_page(page: str) -> Page:
    """Parse ``page`` once and collect its structured data. Never raises."""
    out = Page()
    try:
        root = lxml.html.document_fromstring(page.encode("utf-8", "replace"), parser=_PARSER)
    except (lxml.etree.LxmlError, ValueError) as exc:
        logger.debug("page did not parse: %s", exc)
        return out
    if root is None:
        return out
    out.root = root
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        text = script.text or ""
        if len(text) > MAX_SCRIPT_CHARS:
            continue
        try:
            out.jsonld.append(_loads(text))
        except (ValueError, RecursionError):
            out.jsonld_errors += 1
    for el in root.iter("meta"):
        key = (el.get("property") or el.get("name") or "").strip().lower()
        if key and el.get("content") is not None and len(out.meta) < 500:
            out.meta.setdefault(key, []).append(str(el.get("content")))
    try:
        out.microdata = _items(root, "itemscope", "itemtype", "itemprop")
        out.rdfa = _items(root, "typeof", "typeof", "property")
    except RecursionError:
        pass
    out.state = _state_blocks(root)
    return out
