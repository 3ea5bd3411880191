"""A hostile catalog in real Chromium: redirects, form posts, WebRTC and oversized
responses aimed at loopback ports that are not allow-listed. Canaries on those ports
must hear nothing, whether the page is scraped or opened in a context with no Playwright
routing at all (the egress proxy is the door, not the router)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import PermanentError, UnsafeURLError
from pipeline.settings import CatalogSettings, Settings
from pipeline.sources.browser import DEBIAN_CHROMIUM, BrowserPool
from pipeline.sources.whatsapp import PlaywrightCatalogSource
from tests.security.canary import TcpCanary, UdpCanary, endless_server
from tests.sources.httpserver import Reply, TestServer

pytestmark = pytest.mark.slow

EMPTY_CATALOG = b"<html><body><div data-testid=catalog-end>end</div></body></html>"
HTML = {"Content-Type": "text/html"}


@pytest.fixture
def canary() -> Iterator[TcpCanary]:
    with TcpCanary() as running:
        yield running


@pytest.fixture
def udp() -> Iterator[UdpCanary]:
    with UdpCanary() as running:
        yield running


@pytest.fixture
def catalog(settings: Settings, server: TestServer) -> CatalogSettings:
    """Only the hostile catalog's own port is allow-listed."""
    if not DEBIAN_CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium is not installed at {DEBIAN_CHROMIUM}")
    return settings.with_overrides(
        catalog={
            "allowed_hosts": (f"127.0.0.1:{server.port}",),
            "browser_path": DEBIAN_CHROMIUM,
            "scroll_idle_ms": 200,
            "fetch_timeout": 10,
            "per_host_rate": 1000.0,
            "max_page_bytes": 1 << 20,
        }
    ).catalog


def run_pool(catalog: CatalogSettings, body: Callable[[BrowserPool], Awaitable[None]]) -> None:
    async def main() -> None:
        async with BrowserPool(catalog) as pool:
            await body(pool)

    asyncio.run(main())


async def open_unrouted(pool: BrowserPool, url: str, settle_s: float = 2.0) -> None:
    """Open ``url`` in a bare context: no router, no init script, only the launch's door."""
    browser = await pool.browser()
    context = await browser.new_context()
    try:
        page = await context.new_page()
        try:
            await page.goto(url, wait_until="domcontentloaded", timeout=10_000)
        except Exception:  # noqa: BLE001 - a refused hop fails the navigation: expected
            pass
        await asyncio.sleep(settle_s)
    finally:
        await context.close()


def visit_both_ways(catalog: CatalogSettings, url: str, settle_s: float) -> None:
    """Open ``url`` in the pool's routed context, let it run ``settle_s``, then open it in
    a bare one (:func:`open_unrouted`): both doors must stay shut."""

    async def body(pool: BrowserPool) -> None:
        async with pool.context() as routed, routed.page() as page:
            await page.goto(url)
            await asyncio.sleep(settle_s)
        await open_unrouted(pool, url)

    run_pool(catalog, body)


@pytest.mark.parametrize(
    "location",
    [
        "two hops",
        "/\\127.0.0.1:{canary}/x",  # a path to Python, a host to Chromium
        "http://127.0.0.1:{canary}/x",
        "http://localhost:{canary}/x",
    ],
)
def test_redirect_hops_never_reach_a_port_that_is_not_allowed(
    catalog: CatalogSettings, server: TestServer, canary: TcpCanary, location: str
) -> None:
    target = f"http://127.0.0.1:{canary.port}/x"
    if location == "two hops":
        server.route("/c/5511900000010", Reply(302, headers={"Location": "/hop"}))
        server.route("/hop", Reply(302, headers={"Location": target}))
    else:
        server.route(
            "/c/5511900000010",
            Reply(302, headers={"Location": location.format(canary=canary.port)}),
        )

    async def body(pool: BrowserPool) -> None:
        source = PlaywrightCatalogSource(catalog, pool)
        with pytest.raises(UnsafeURLError, match="refused"):
            await source.scrape(server.url("/c/5511900000010"), "hostile")
        await open_unrouted(pool, server.url("/c/5511900000010"), settle_s=0.5)

    run_pool(catalog, body)
    assert canary.received == []
    assert server.seen and server.seen[0].path == "/c/5511900000010"


def test_an_auto_submitted_form_post_through_two_307s_is_refused(
    catalog: CatalogSettings, server: TestServer, canary: TcpCanary
) -> None:
    form = (
        b'<html><body><form id=f method=POST enctype="text/plain" action="/post1">'
        b'<input name="PING attacker-chosen body" value="x"></form>'
        b"<script>document.getElementById('f').submit()</script></body></html>"
    )
    server.route("/form", Reply(200, form, HTML))
    server.route("/post1", Reply(307, headers={"Location": "/post2"}))
    server.route("/post2", Reply(307, headers={"Location": f"http://127.0.0.1:{canary.port}/"}))

    visit_both_ways(catalog, server.url("/form"), settle_s=2)
    posts = [s for s in server.seen if s.method == "POST"]
    assert [s.path for s in posts][:2] == ["/post1", "/post2"]  # the chain did run
    assert b"attacker-chosen" in posts[0].body
    assert canary.received == []


def test_subresources_https_and_websockets_to_other_ports_are_refused(
    catalog: CatalogSettings, server: TestServer, canary: TcpCanary
) -> None:
    port = canary.port
    page = (
        "<html><body><script>"
        f"fetch('http://127.0.0.1:{port}/a', {{mode: 'no-cors'}}).catch(() => 0);"
        f"fetch('https://127.0.0.1:{port}/b', {{mode: 'no-cors'}}).catch(() => 0);"
        f"try {{ new WebSocket('ws://127.0.0.1:{port}/c'); }} catch (e) {{}}"
        f"navigator.sendBeacon('http://localhost:{port}/d', 'x');"
        f"</script><img src='http://127.0.0.1:{port}/e.png'>"
        f"<iframe src='http://127.0.0.1:{port}/f'></iframe></body></html>"
    ).encode()
    server.route("/page", Reply(200, page, HTML))

    visit_both_ways(catalog, server.url("/page"), settle_s=1.5)
    assert canary.received == []


WEBRTC_PAGE = """<html><body><script>
async function attempt(ctor) {
  if (!ctor) return "none";
  const pc = new ctor({iceServers: [
    {urls: "stun:127.0.0.1:%(udp)d"},
    {urls: "stun:localhost:%(udp)d"},
    {urls: ["turn:127.0.0.1:%(tcp)d?transport=tcp", "turn:127.0.0.1:%(udp)d?transport=udp"],
     username: "u", credential: "p"}]});
  pc.createDataChannel("x");
  await pc.setLocalDescription(await pc.createOffer());
  return "tried";
}
const frame = document.createElement("iframe");
document.body.appendChild(frame);
Promise.all([attempt(window.RTCPeerConnection),
             attempt(frame.contentWindow.RTCPeerConnection),
             attempt(window.webkitRTCPeerConnection)])
  .then((r) => document.title = r.join(","), (e) => document.title = "error " + e);
</script></body></html>"""


def test_webrtc_reaches_no_udp_or_tcp_port(
    catalog: CatalogSettings, server: TestServer, canary: TcpCanary, udp: UdpCanary
) -> None:
    page = (WEBRTC_PAGE % {"udp": udp.port, "tcp": canary.port}).encode()
    server.route("/rtc", Reply(200, page, HTML))

    async def body(pool: BrowserPool) -> None:
        async with pool.context() as routed, routed.page() as tab:
            await tab.goto(server.url("/rtc"))
            await asyncio.sleep(3)
            assert "tried" not in await tab.title()  # the init script removed the API
        # Without the init script only the launch flags and the proxy stand in the way.
        await open_unrouted(pool, server.url("/rtc"), settle_s=3)

    run_pool(catalog, body)
    assert udp.received == []
    assert canary.received == []


def test_an_oversized_page_is_cut_while_it_streams(
    catalog: CatalogSettings, server: TestServer
) -> None:
    with endless_server() as endless:
        limited = catalog.model_copy(
            update={"allowed_hosts": (*catalog.allowed_hosts, f"127.0.0.1:{endless.server.port}")}
        )

        async def body(pool: BrowserPool) -> None:
            async with pool.context() as routed, routed.page() as tab:
                try:
                    await tab.goto(endless.url, wait_until="load")
                except Exception:  # noqa: BLE001 - the cut navigation fails: expected
                    pass
                await asyncio.sleep(1)

        run_pool(limited, body)
        # The limit is 1 MB: what got out beyond it sat in socket buffers, not 40 MB.
        assert 0 < endless.sent < 12 * (1 << 20), endless.sent


def test_the_whatsapp_session_is_not_loaded_for_a_strangers_catalog(
    catalog: CatalogSettings, server: TestServer, tmp_path: Path
) -> None:
    state = tmp_path / "whatsapp-state.json"
    cookie: dict[str, Any] = {
        "name": "wa_session",
        "value": "logged-in-secret",
        "domain": "127.0.0.1",
        "path": "/",
        "expires": -1,
        "httpOnly": False,
        "secure": False,
        "sameSite": "Lax",
    }
    state.write_text(json.dumps({"cookies": [cookie], "origins": []}))
    with_session = catalog.model_copy(update={"storage_state": state})
    server.route("/c/5511900000020", Reply(200, EMPTY_CATALOG, HTML))

    async def body(pool: BrowserPool) -> None:
        source = PlaywrightCatalogSource(with_session, pool)
        with pytest.raises(PermanentError, match="no products"):
            await source.scrape(server.url("/c/5511900000020"), "stranger")

    run_pool(with_session, body)
    assert server.seen
    assert all("logged-in-secret" not in s.headers.get("cookie", "") for s in server.seen)
    pool = BrowserPool(with_session)  # nothing started: the decision alone
    assert pool.session_state("web.whatsapp.com") == state
    assert pool.session_state("WA.ME.") == state
    assert pool.session_state("127.0.0.1") is None
    assert pool.session_state("whatsapp.com.evil.example") is None


def _proc(pid: str, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_chromium_runs_with_its_sandbox(catalog: CatalogSettings, server: TestServer) -> None:
    server.route("/page", Reply(200, b"<html><body>hi</body></html>", HTML))

    async def body(pool: BrowserPool) -> None:
        async with pool.context() as routed, routed.page() as tab:
            await tab.goto(server.url("/page"))
            ours = [p for p in os.listdir("/proc") if p.isdigit() and _descends(p, me)]
            [main] = [
                p
                for p in ours
                if "--remote-debugging-pipe" in _proc(p, "cmdline")
                and "--type=" not in _proc(p, "cmdline")
            ]
            assert "--no-sandbox" not in _proc(main, "cmdline")
            uid = _proc(main, "status").split("Uid:")[1].split()[0]
            assert os.geteuid() != 0 or uid != "0", "Chromium runs as root"
            renderers = [p for p in ours if "--type=renderer" in _proc(p, "cmdline")]
            assert renderers
            for pid in renderers:  # seccomp-bpf filter mode: the renderer is sandboxed
                assert "Seccomp:\t2" in _proc(pid, "status"), _proc(pid, "status")
        assert pool.sandbox is not None and pool.sandbox.sandbox

    me = str(os.getpid())
    run_pool(catalog, body)


def _descends(pid: str, ancestor: str) -> bool:
    """Whether ``ancestor`` is among the parents of ``pid`` (Python, Playwright's driver,
    the browser, its zygote: a few levels)."""
    for _ in range(8):
        status = _proc(pid, "status")
        if "PPid:" not in status:
            return False
        pid = status.split("PPid:")[1].split()[0]
        if pid == ancestor:
            return True
    return False
