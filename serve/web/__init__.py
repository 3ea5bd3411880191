"""The shoppers' search page: its files (package data next to this module: the
pyproject's package-data globs take *.html, *.css, *.js), thumbnails and imaging.

``page_asset(name)`` reads one of the page's files; the routes live in ``serve.routes.web``.
"""

from __future__ import annotations

from importlib import resources

ASSETS = {
    "search.html": "text/html; charset=utf-8",
    "search.css": "text/css; charset=utf-8",
    "search.js": "text/javascript; charset=utf-8",
}


def page_asset(name: str) -> tuple[bytes, str]:
    """The bytes and media type of a page file. Raises KeyError for a name not in ASSETS."""
    media_type = ASSETS[name]
    return resources.files(__package__).joinpath(name).read_bytes(), media_type
