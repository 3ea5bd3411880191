"""Connections go to the address the guard checked: DNS is asked once, by the guard."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.errors import BackendUnavailable
from pipeline.fetch import SafeFetcher, UrlGuard
from pipeline.fetch.guard import IPAddress, SplitURL
from pipeline.settings import Settings
from tests.sources.httpserver import Reply, TestServer


class StaticDNSGuard(UrlGuard):
    """The guard with its DNS answers fixed by the test (names under .test resolve nowhere)."""

    def __init__(self, allowed: list[str], answers: dict[str, str]) -> None:
        super().__init__(allowed)
        self.answers = answers
        self.lookups: list[str] = []

    async def _resolve(self, split: SplitURL) -> list[IPAddress]:
        self.lookups.append(split.host)
        return [ipaddress.ip_address(self.answers[split.host])]


def fetch(
    settings: Settings, guard: UrlGuard, url: str, ctx: ssl.SSLContext | None = None
) -> bytes:
    async def main() -> bytes:
        async with SafeFetcher(settings.catalog, guard=guard, ssl_context=ctx) as fetcher:
            return (await fetcher.fetch(url)).content

    return asyncio.run(main())


def test_connection_goes_to_the_checked_address(settings: Settings, server: TestServer) -> None:
    server.route("/x", Reply(200, b"pinned"))
    guard = StaticDNSGuard(["shop.test"], {"shop.test": "127.0.0.1"})
    # Real DNS does not know shop.test: the body can only come from the pinned address.
    assert fetch(settings, guard, f"http://shop.test:{server.port}/x") == b"pinned"
    assert guard.lookups == ["shop.test"]
    assert server.seen[0].headers["host"] == f"shop.test:{server.port}"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=shop.test",
            "-addext",
            "subjectAltName=DNS:shop.test",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = f"tls ok for {self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1]), cert
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_https_keeps_the_host_name_for_sni_and_certificate(
    settings: Settings, tls_server: tuple[int, Path]
) -> None:
    port, cert = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    guard = StaticDNSGuard(
        ["shop.test", "other.test"], {"shop.test": "127.0.0.1", "other.test": "127.0.0.1"}
    )
    body = fetch(settings, guard, f"https://shop.test:{port}/", trust)
    assert body == f"tls ok for shop.test:{port}".encode()
    # Same address, a name the certificate does not cover: verification must fail.
    with pytest.raises(BackendUnavailable, match="CERTIFICATE_VERIFY_FAILED|hostname"):
        fetch(settings, guard, f"https://other.test:{port}/", trust)
