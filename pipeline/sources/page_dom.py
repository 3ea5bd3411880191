"""Small reads of a parsed page's elements shared by the page readers: an element's
class/id hint, whether it is hidden, and how near it sits to the main heading."""

from __future__ import annotations

import re
from typing import Any

# Class names the common CSS frameworks hide with.
_HIDDEN_CLASSES = frozenset({"hidden", "hide", "d-none", "is-hidden", "u-hidden", "invisible"})
# Page chrome: a heading in here names a section of the site, not the product.
_CHROME_TAGS = frozenset({"nav", "aside", "footer"})
_CHROME_WORDS = re.compile(r"(?<![a-z])(?:nav|navbar|menu|sidebar|breadcrumbs?|footer)(?![a-z])")
MAX_DEPTH = 12
# The test hooks shops leave in their markup (data-qa, data-test, data-testid, data-cy,
# data-automation, data-aut-id...) name an element's role where class names are hashed.
HOOKS = ("data-qa", "data-test", "data-cy", "data-aut")
HOOK_XPATH = (
    "starts-with(name(), 'data-qa') or starts-with(name(), 'data-test')"
    " or name()='data-cy' or starts-with(name(), 'data-aut')"
)


def attrs_hint(el: Any) -> str:
    """What an element's class, id, itemprop and test hooks say it is, lower case."""
    hooks = " ".join(str(v) for k, v in el.attrib.items() if str(k).startswith(HOOKS))
    return (
        f"{el.get('class') or ''} {el.get('id') or ''} {el.get('itemprop') or ''} {hooks}".lower()
    )


def hidden(el: Any) -> bool:
    """Hidden by its own or a near ancestor's class or style (a template, a message
    shown only on error)."""
    for node in (el, *list(el.iterancestors())[:3]):
        style = (node.get("style") or "").replace(" ", "").lower()
        classes = (node.get("class") or "").lower().split()
        if "display:none" in style or any(c in _HIDDEN_CLASSES for c in classes):
            return True
        if node.get("hidden") is not None or node.get("aria-hidden") == "true":
            return True
    return False


def in_chrome(el: Any) -> bool:
    """Inside the site's navigation, a sidebar or the footer (by tag or class/id)."""
    for n, node in enumerate((el, *el.iterancestors())):
        if n > MAX_DEPTH or node.tag in ("body", "html"):
            break
        if node.tag in _CHROME_TAGS:
            return True
        hint = f"{node.get('class') or ''} {node.get('id') or ''}".lower().replace("_", "-")
        if hint.strip() and _CHROME_WORDS.search(hint.replace("-", " ")):
            return True
    return False


class Nearness:
    """How near elements are to an anchor (the main heading), in the document tree: the
    number of levels from the anchor up to the closest ancestor they share. A price in
    the heading's own block is 1-3 levels away; one in a carousel of other products
    meets the heading only near ``body``."""

    def __init__(self, anchor: Any) -> None:
        self.levels: dict[Any, int] = {}
        if anchor is not None:
            for n, node in enumerate((anchor, *anchor.iterancestors())):
                self.levels[node] = n

    def levels_up(self, el: Any) -> int:
        """Levels from the anchor to the ancestor it shares with ``el``; MAX_DEPTH
        when none is near (or there is no anchor)."""
        if not self.levels:
            return MAX_DEPTH
        for n, node in enumerate((el, *el.iterancestors())):
            if n > 40:
                break
            found = self.levels.get(node)
            if found is not None:
                return min(found, MAX_DEPTH)
        return MAX_DEPTH


def canonical_href(root: Any) -> str | None:
    """The page's ``<link rel="canonical">`` address, when it has one."""
    for link in root.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            return str(link.get("href"))
    return None
