"""The sample catalog site as an HTTP server: in-process for tests, or on its own.

``SampleSite(host="127.0.0.1", port=0)`` serves on a free port from a background thread;
``start()``/``stop()`` (or ``with``), ``base_url``. ``site.catalog`` changes products at run
time. ``latency_ms`` delays every answer, to imitate a real network in benchmarks.
``graph_faults`` holds Graph API errors to answer next, for error-path tests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline.sample_site import pages, platforms
from pipeline.sample_site.catalog import GRAPH_TOKEN, SampleCatalog, SampleSeller
from pipeline.sample_site.images import CORRUPT_JPEG, product_jpeg

logger = logging.getLogger(__name__)


@dataclass
class GraphFault:
    """One Graph API error answer: HTTP status, Graph error code, optional headers."""

    status: int
    code: int
    message: str = "An error occurred"
    error_type: str = "OAuthException"
    subcode: int | None = None
    headers: dict[str, str] | None = None


def _static(name: str) -> bytes:
    return resources.files("pipeline.sample_site").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("sample-site %s", format % args)

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up; nothing to do
            pass

    def _json(self, data: Any, status: int = 200, **headers: str) -> None:
        body = json.dumps(data, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8", **headers)

    def _not_found(self) -> None:
        self._send(404, b"<h1>Not found</h1>", "text/html; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802
        site = self.server.site
        if site.latency_ms:
            time.sleep(site.latency_ms / 1000)
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        base = f"http://{self.headers.get('Host') or site.netloc}"
        try:
            self._route(segments, query, base)
        except (ValueError, KeyError):
            self._send(400, b"bad request", "text/plain")

    def _route(self, segments: list[str], query: dict[str, str], base: str) -> None:
        catalog = self.server.site.catalog
        head = segments[0] if segments else ""
        seller = catalog.seller(segments[1].split(".")[0]) if len(segments) > 1 else None
        if not segments:
            self._send(200, pages.index_page(catalog.sellers()), "text/html; charset=utf-8")
        elif head == "static" and segments[1:] in (["catalog.js"], ["catalog.html"]):
            kind = "text/javascript" if segments[1].endswith(".js") else "text/html"
            self._send(200, _static(segments[1]), f"{kind}; charset=utf-8")
        elif head == "c" and len(segments) == 2:
            # The shell is served for any number: the script reports an unknown catalog.
            self._send(200, _static("catalog.html"), "text/html; charset=utf-8")
        elif head == "api" and segments[1:2] == ["catalog"] and len(segments) == 3:
            found = catalog.seller(segments[2])
            if found is None:
                self._json({"error": "no such catalog"}, 404)
                return
            offset = max(0, int(query.get("offset", "0")))
            limit = min(50, max(1, int(query.get("limit", "20"))))
            self._json(pages.catalog_api(found, base, offset, limit))
        elif head == "graph":
            self._graph(segments, query, base)
        elif seller is None:
            self._not_found()
        elif head in ("shopify", "woo"):
            self._platform(seller, segments, query, base)
        else:
            self._seller_route(seller, segments, base)

    def _platform(
        self, seller: SampleSeller, segments: list[str], query: dict[str, str], base: str
    ) -> None:
        """The seller as a Shopify store or a WooCommerce shop."""
        rest = segments[2:]
        page = int(query.get("page", "1"))
        if segments[0] == "shopify" and not rest:
            self._send(200, platforms.shopify_home(seller, base), "text/html; charset=utf-8")
        elif segments[0] == "shopify" and rest == ["products.json"]:
            limit = int(query.get("limit", "30"))
            self._json(platforms.shopify_products(seller, base, page, limit))
        elif segments[0] == "shopify" and rest == ["meta.json"]:
            self._json(platforms.shopify_meta(seller))
        elif segments[0] == "woo" and not rest:
            self._send(200, platforms.woo_home(seller, base), "text/html; charset=utf-8")
        elif segments[0] == "woo" and rest == ["wp-json"]:
            self._json(platforms.wp_index(seller, base))
        elif segments[0] == "woo" and rest == ["wp-json", "wc", "store", "v1", "products"]:
            per_page = int(query.get("per_page", "10"))
            items, total, pages = platforms.woo_products(seller, base, page, per_page)
            self._json(items, X_WP_Total=str(total), X_WP_TotalPages=str(pages))
        else:
            self._not_found()

    def _seller_route(self, seller: SampleSeller, segments: list[str], base: str) -> None:
        head = segments[0]
        if head == "p" and len(segments) == 3:
            product = self.server.site.catalog.product(seller.phone, segments[2])
            if product is None:
                self._not_found()
                return
            self._send(200, pages.detail_page(seller, product, base), "text/html; charset=utf-8")
        elif head == "shop":
            self._shop(seller, segments, base)
        elif head == "feed" and len(segments) == 2 and "." in segments[1]:
            fmt = segments[1].rsplit(".", 1)[1]
            if fmt not in ("csv", "tsv", "json", "jsonl"):
                self._not_found()
                return
            body, kind = pages.feed(seller, base, fmt)
            self._send(200, body, kind)
        elif head == "img" and len(segments) == 3:
            self._image(seller, segments[2])
        else:
            self._not_found()

    def _shop(self, seller: SampleSeller, segments: list[str], base: str) -> None:
        if len(segments) == 2:
            self._send(200, pages.shop_index(seller, base), "text/html; charset=utf-8")
            return
        for index, product in enumerate(seller.products):
            if len(segments) == 3 and product.retailer_id == segments[2]:
                body = pages.shop_product(seller, product, base, index)
                self._send(200, body, "text/html; charset=utf-8")
                return
        self._not_found()

    def _image(self, seller: SampleSeller, name: str) -> None:
        key = name.removesuffix(".jpg")
        for product in seller.products:
            if key in product.image_keys():
                if product.broken == "404-image":
                    break
                body = (
                    CORRUPT_JPEG
                    if product.broken == "corrupt-image"
                    else product_jpeg(key, name=product.name)
                )
                self._send(200, body, "image/jpeg", Cache_Control="max-age=3600")
                return
        self._not_found()

    def _graph(self, segments: list[str], query: dict[str, str], base: str) -> None:
        site = self.server.site
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth else query.get("access_token", "")
        fault = site.graph_faults.pop(0) if site.graph_faults else None
        if fault is None and token != GRAPH_TOKEN:
            fault = GraphFault(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if fault is not None:
            error: dict[str, Any] = {
                "message": fault.message,
                "type": fault.error_type,
                "code": fault.code,
                "fbtrace_id": "AbCdEfGh123",
            }
            if fault.subcode is not None:
                error["error_subcode"] = fault.subcode
            self._json({"error": error}, fault.status, **(fault.headers or {}))
            return
        # /graph/<version>/<catalog_id>/products
        if len(segments) != 4 or segments[3] != "products":
            self._json(
                {"error": {"message": "Unknown path", "type": "GraphMethodException", "code": 100}},
                400,
            )
            return
        seller = site.catalog.by_catalog_id(segments[2])
        if seller is None:
            self._json(
                {
                    "error": {
                        "message": f"Unsupported get request. Object with ID "
                        f"'{segments[2]}' does not exist",
                        "type": "GraphMethodException",
                        "code": 100,
                        "error_subcode": 33,
                    }
                },
                400,
            )
            return
        after = int(query.get("after", "c0").lstrip("c") or 0)
        limit = min(100, max(1, int(query.get("limit", "25"))))
        fields = query.get("fields", "")
        next_base = f"{base}/graph/{segments[1]}/{segments[2]}/products?fields={fields}"
        self._json(pages.graph_products(seller, base, after, limit, next_base))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: SampleSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a browser page closed mid-request) is normal here.
        logger.debug("sample-site: client %s went away", client_address, exc_info=True)


class SampleSite:
    """The sample catalog web app. Raises OSError from start() when the port is taken."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalog: SampleCatalog | None = None,
        bulk_products: int = 200,
        latency_ms: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.catalog = catalog or SampleCatalog(bulk_products=bulk_products)
        self.latency_ms = latency_ms
        # Popped one per Graph request; None answers normally (to fault a later page).
        self.graph_faults: list[GraphFault | None] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"

    def start(self) -> SampleSite:
        server = _Server((self.host, self.port), _Handler)
        server.site = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="sample-site", daemon=True
        )
        self._thread.start()
        logger.info("sample site serving on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI)."""
        server = _Server((self.host, self.port), _Handler)
        server.site = self
        self.port = int(server.server_address[1])
        self._server = server
        logger.info("sample site serving on %s", self.base_url)
        try:
            server.serve_forever()
        finally:
            server.server_close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
