"""The operator dashboard's files (package data: the pyproject's globs take *.html, *.css,
*.js); the routes live in ``serve.routes.dashboard``."""

from __future__ import annotations

from importlib import resources

ASSETS = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}


def asset(name: str) -> tuple[bytes, str]:
    """The bytes and media type of a dashboard file. Raises KeyError for a name not in ASSETS."""
    media_type = ASSETS[name]
    return resources.files(__package__).joinpath(name).read_bytes(), media_type
