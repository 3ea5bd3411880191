"""The egress proxy on its own, driven by a plain HTTP client: what it forwards, what it
refuses, and that it counts bytes as they arrive."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from pipeline.fetch.egress_proxy import REFUSED_HEADER, EgressProxy
from pipeline.fetch.guard import UrlGuard
from pipeline.fetch.limits import HostLimiter
from tests.security.canary import Endless, TcpCanary, endless_server
from tests.sources.httpserver import Reply, TestServer


@pytest.fixture
def endless() -> Iterator[Endless]:
    with endless_server() as running:
        yield running


def proxied(allowed: list[str], coro_factory: object, *, max_bytes: int = 1 << 20) -> object:
    async def main() -> object:
        proxy = EgressProxy(
            UrlGuard(allowed), HostLimiter(8, 1000.0), max_bytes=max_bytes, timeout_s=10
        )
        url = await proxy.start()
        try:
            async with httpx.AsyncClient(proxy=url, trust_env=False, timeout=20) as client:
                return await coro_factory(client, proxy)  # type: ignore[operator]
        finally:
            await proxy.aclose()

    return asyncio.run(main())


def test_allowed_requests_pass_and_others_are_refused_with_the_reason(server: TestServer) -> None:
    server.route("/ok", Reply(200, b"fine", {"Content-Type": "text/plain"}))
    with TcpCanary() as canary:

        async def go(client: httpx.AsyncClient, proxy: EgressProxy) -> None:
            ok = await client.get(server.url("/ok"))
            assert (ok.status_code, ok.text) == (200, "fine")
            posted = await client.post(server.url("/ok"), content=b"a=1")
            assert posted.status_code == 200
            refused = await client.get(f"http://127.0.0.1:{canary.port}/x")
            assert refused.status_code == 403
            assert "non-public address" in refused.headers[REFUSED_HEADER]
            named = await client.get(f"http://localhost:{canary.port}/x")
            assert named.status_code == 403
            with pytest.raises(httpx.ProxyError):  # CONNECT refused: HTTPS, WSS
                await client.get(f"https://127.0.0.1:{canary.port}/x")
            assert proxy.refused

        proxied([f"127.0.0.1:{server.port}"], go)
        assert canary.received == []
    assert [s.method for s in server.seen] == ["GET", "POST"]
    assert server.seen[1].body == b"a=1"


def test_origin_form_and_upgrade_requests_are_refused(server: TestServer) -> None:
    async def go(client: httpx.AsyncClient, proxy: EgressProxy) -> list[bytes]:
        host, port = proxy.url.removeprefix("http://").split(":")
        answers = []
        for head in (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            f"GET {server.url('/')} HTTP/1.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n\r\n".encode(),
            b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",
            b"nonsense\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(head)
            answers.append(await reader.read(200))
            writer.close()
        return answers

    answers = proxied([f"127.0.0.1:{server.port}"], go)
    assert all(a.startswith((b"HTTP/1.1 403", b"HTTP/1.1 400")) for a in answers), answers  # type: ignore[attr-defined]
    assert server.seen == []


def test_a_tunnel_goes_to_the_allowed_port_only() -> None:
    canary = TcpCanary()
    target = TcpCanary()  # the allowed one: a raw TCP peer behind CONNECT
    try:

        async def go(client: httpx.AsyncClient, proxy: EgressProxy) -> list[bytes]:
            host, port = proxy.url.removeprefix("http://").split(":")
            answers = []
            for dest in (target.port, canary.port):
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(f"CONNECT 127.0.0.1:{dest} HTTP/1.1\r\n\r\n".encode())
                answers.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(b"hello")
                await writer.drain()
                await asyncio.sleep(0.3)
                writer.close()
            return answers

        answers = proxied([f"127.0.0.1:{target.port}"], go)
        assert answers[0].startswith(b"HTTP/1.1 200"), answers  # type: ignore[index]
        assert answers[1].startswith(b"HTTP/1.1 403"), answers  # type: ignore[index]
        assert target.received == [b"hello"]
        assert canary.received == []
    finally:
        canary.close()
        target.close()


def test_the_page_limit_is_counted_while_the_body_streams(endless: Endless) -> None:
    async def go(client: httpx.AsyncClient, proxy: EgressProxy) -> None:
        with pytest.raises(httpx.HTTPError):
            async with client.stream("GET", f"{endless.server.base_url}/big") as response:
                async for _ in response.aiter_raw():
                    pass
        assert proxy.refused["over the page limit"] == 1

    proxied([f"127.0.0.1:{endless.server.port}"], go, max_bytes=1 << 20)
    # 1 MB was allowed; what the server got out beyond that sat in socket buffers.
    assert endless.sent < 12 * (1 << 20), endless.sent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_upstream_is_a_502_not_a_hang() -> None:
    port = _free_port()

    async def go(client: httpx.AsyncClient, proxy: EgressProxy) -> int:
        return (await client.get(f"http://127.0.0.1:{port}/")).status_code

    assert proxied([f"127.0.0.1:{port}"], go) == 502
