"""SafeFetcher against a real local HTTP server: redirects, limits, errors, politeness."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest
from PIL import Image

from pipeline.errors import BackendUnavailable, PermanentError, RetryableError, UnsafeURLError
from pipeline.fetch import HttpStatusError, SafeFetcher, retry_after_seconds
from pipeline.settings import Settings
from tests.sources.httpserver import Reply, TestServer


def catalog(settings: Settings, **fields: Any) -> Any:
    return settings.with_overrides(catalog=fields).catalog


def run_fetch(cat: Any, coro_fn: Any) -> Any:
    async def main() -> Any:
        async with SafeFetcher(cat) as fetcher:
            return await coro_fn(fetcher)

    return asyncio.run(main())


def jpeg_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_fetch_returns_body_headers_and_user_agent(settings: Settings, server: TestServer) -> None:
    server.route("/page", Reply(200, "olá".encode(), {"Content-Type": "text/html; charset=utf-8"}))
    result = run_fetch(settings.catalog, lambda f: f.fetch(server.url("/page"), accept="text/html"))
    assert result.status == 200 and result.text() == "olá"
    assert result.final_url == server.url("/page")
    assert result.content_type == "text/html"
    seen = server.seen[-1].headers
    assert seen["user-agent"].startswith("catalog-sync/")
    assert seen["accept"] == "text/html"
    assert seen["host"] == f"127.0.0.1:{server.port}"


def test_redirects_are_followed_and_each_hop_is_checked(
    settings: Settings, server: TestServer
) -> None:
    cat = catalog(settings, allowed_hosts=(f"127.0.0.1:{server.port}",))
    server.route("/a", Reply(302, headers={"Location": "/b"}))
    server.route("/b", Reply(301, headers={"Location": server.url("/c")}))
    server.route("/c", Reply(200, b"done"))
    result = run_fetch(cat, lambda f: f.fetch(server.url("/a")))
    assert result.content == b"done" and result.final_url == server.url("/c")
    # A hop to an address that is not allow-listed (same machine, other spellings) is refused.
    for target in ("http://127.0.0.2:%d/c", "http://0x7f000001:1/", "http://[::1]:%d/c"):
        location = target % server.port if "%d" in target else target
        server.route("/evil", Reply(302, headers={"Location": location}))
        with pytest.raises(UnsafeURLError):
            run_fetch(cat, lambda f: f.fetch(server.url("/evil")))
    server.route("/meta", Reply(307, headers={"Location": "http://169.254.169.254/latest/"}))
    with pytest.raises(UnsafeURLError, match="169.254.169.254"):
        run_fetch(cat, lambda f: f.fetch(server.url("/meta")))
    server.route("/ftp", Reply(302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(UnsafeURLError, match="only http"):
        run_fetch(cat, lambda f: f.fetch(server.url("/ftp")))


def test_redirect_loops_are_cut(settings: Settings, server: TestServer) -> None:
    server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    with pytest.raises(PermanentError, match="redirected more than 5"):
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/loop")))
    assert len(server.seen) == 6


def test_credentials_do_not_follow_a_redirect_to_another_host(
    settings: Settings, server: TestServer
) -> None:
    server.route("/a", Reply(302, headers={"Location": server.url("/b", host="localhost")}))
    server.route("/b", Reply(200, b"ok"))
    run_fetch(
        settings.catalog,
        lambda f: f.fetch(server.url("/a"), headers={"Authorization": "Bearer secret"}),
    )
    assert server.seen[0].headers["authorization"] == "Bearer secret"
    assert "authorization" not in server.seen[1].headers


def test_private_address_refused_without_allow_list(settings: Settings, server: TestServer) -> None:
    server.route("/x", Reply(200, b"secret"))
    cat = catalog(settings, allowed_hosts=())
    with pytest.raises(UnsafeURLError, match="CATALOG_ALLOWED_HOSTS"):
        run_fetch(cat, lambda f: f.fetch(server.url("/x")))
    with pytest.raises(UnsafeURLError):
        run_fetch(cat, lambda f: f.fetch_image(server.url("/x")))
    assert server.seen == []


def test_size_limits_declared_and_streamed(settings: Settings, server: TestServer) -> None:
    big = b"x" * 5000
    server.route("/declared", Reply(200, big))
    server.route(
        "/chunked", Reply(200, big, {"Transfer-Encoding": "chunked", "Content-Length": ""})
    )
    with pytest.raises(UnsafeURLError, match="over the limit of 4096"):
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/declared"), max_bytes=4096))
    assert run_fetch(settings.catalog, lambda f: f.fetch(server.url("/declared"))).content == big


def test_status_mapping(settings: Settings, server: TestServer) -> None:
    server.route("/404", Reply(404, b"nope"))
    server.route("/429", Reply(429, headers={"Retry-After": "7"}))
    server.route("/503", Reply(503, headers={"Retry-After": "2"}))
    server.route("/500", Reply(500))
    server.route("/408", Reply(408))
    with pytest.raises(HttpStatusError) as not_found:
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/404")))
    assert not_found.value.status == 404 and not_found.value.body == b"nope"
    with pytest.raises(RetryableError) as limited:
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/429")))
    assert limited.value.delay == 7
    with pytest.raises(BackendUnavailable) as down:
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/503")))
    assert down.value.delay == 2
    with pytest.raises(BackendUnavailable):
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/500")))
    with pytest.raises(RetryableError):
        run_fetch(settings.catalog, lambda f: f.fetch(server.url("/408")))
    kept = run_fetch(
        settings.catalog, lambda f: f.fetch(server.url("/500"), raise_for_status=False)
    )
    assert kept.status == 500


def test_retry_after_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("garbage") is None
    assert retry_after_seconds("999999") == 3600.0


def test_slow_server_hits_the_deadline(settings: Settings, server: TestServer) -> None:
    server.route("/drip", Reply(200, b"x" * 100, drip_delay=0.05))
    cat = catalog(settings, fetch_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="longer than"):
        run_fetch(cat, lambda f: f.fetch(server.url("/drip")))
    assert time.monotonic() - started < 3


def test_connection_refused_is_retryable(settings: Settings) -> None:
    from pipeline.local.services import free_port

    with pytest.raises(BackendUnavailable, match="unreachable"):
        run_fetch(settings.catalog, lambda f: f.fetch(f"http://127.0.0.1:{free_port()}/"))


def test_fetch_image_checks_the_bytes(settings: Settings, server: TestServer) -> None:
    good = jpeg_bytes()
    server.route("/ok.jpg", Reply(200, good, {"Content-Type": "image/jpeg"}))
    server.route("/bad.jpg", Reply(200, b"\xff\xd8\xff\xe0 not really a jpeg"))
    server.route("/trunc.jpg", Reply(200, good[: len(good) // 2]))
    server.route("/huge.jpg", Reply(200, jpeg_bytes((2000, 1000))))
    server.route("/gone.jpg", Reply(404))
    assert run_fetch(settings.catalog, lambda f: f.fetch_image(server.url("/ok.jpg"))) == good
    for path in ("/bad.jpg", "/trunc.jpg"):
        with pytest.raises(PermanentError, match="not a decodable image"):
            run_fetch(settings.catalog, lambda f, p=path: f.fetch_image(server.url(p)))
    with pytest.raises(PermanentError, match="over the 1024000 limit"):
        cat = catalog(settings, max_image_pixels=1_024_000)
        run_fetch(cat, lambda f: f.fetch_image(server.url("/huge.jpg")))
    with pytest.raises(HttpStatusError):
        run_fetch(settings.catalog, lambda f: f.fetch_image(server.url("/gone.jpg")))
    assert server.seen[0].headers["accept"].startswith("image/")


def test_per_host_concurrency_and_rate(settings: Settings, server: TestServer) -> None:
    server.route("/slow", Reply(200, b"abc", drip_delay=0.1))
    cat = catalog(settings, per_host_concurrency=2, per_host_rate=1000.0)

    async def many(f: SafeFetcher) -> float:
        started = time.monotonic()
        await asyncio.gather(*(f.fetch(server.url("/slow")) for _ in range(6)))
        return time.monotonic() - started

    # 6 requests of >= 0.2 s, 2 at a time: >= 0.6 s; all at once would take ~0.3 s.
    assert run_fetch(cat, many) >= 0.5
    server.route("/fast", Reply(200, b"ok"))
    cat = catalog(settings, per_host_concurrency=8, per_host_rate=10.0)

    async def burst(f: SafeFetcher) -> float:
        started = time.monotonic()
        await asyncio.gather(*(f.fetch(server.url("/fast")) for _ in range(15)))
        return time.monotonic() - started

    # A burst of 10 goes at once; the 5 after it wait for tokens at 10 per second.
    assert run_fetch(cat, burst) >= 0.4
