"""Pages shipped as package data (the search page, the dashboard), served with a strict
Content-Security-Policy: they load nothing from other origins, so an injected script or a
hot-linked image would be blocked by the browser even if a bug let one in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources

from fastapi import HTTPException
from fastapi.responses import Response

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


class PackagePage:
    """One HTML page of ``package`` and its assets (CSS, JS) beside it."""

    def __init__(self, package: str, page: str, assets: Iterable[str], csp: str) -> None:
        self._files = resources.files(package)
        self._page = page
        self._assets = frozenset(assets)
        self._headers = {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    def _response(
        self, name: str, cache_control: str, replace: Mapping[str, str] | None = None
    ) -> Response:
        media_type = MEDIA_TYPES[name[name.rindex(".") :]]
        body = self._files.joinpath(name).read_bytes()
        for old, new in (replace or {}).items():
            body = body.replace(old.encode(), new.encode())
        headers = {**self._headers, "Cache-Control": cache_control}
        return Response(body, media_type=media_type, headers=headers)

    def page(self, replace: Mapping[str, str] | None = None) -> Response:
        """The page, always revalidated so a deploy shows at once.

        ``replace`` swaps fixed markers in the HTML for values the server knows (never a
        user's input: nothing here is escaped).
        """
        return self._response(self._page, "no-cache", replace)

    def asset(self, name: str) -> Response:
        """One of the page's assets; 404 for any other name."""
        if name not in self._assets:
            raise HTTPException(404, detail=f"no asset {name[:100]}")
        return self._response(name, "public, max-age=300")
