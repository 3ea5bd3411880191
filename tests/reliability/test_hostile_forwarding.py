"""X-Forwarded-For over real HTTP: a forged header must not buy a fresh rate-limit bucket,
and behind a configured proxy each client gets its own.

The rate limit here is 60 a minute (a burst of 10), so 30 quick requests from one client
see 429s; a client that escaped its bucket with a new header each time would see none.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from pipeline.settings import Settings
from tests.reliability.edge import Served, edge_settings, serve_api


def _settings(tmp: pytest.TempPathFactory, redis_url: str, **api: object) -> Settings:
    # Fresh buckets (other modules of the session leave theirs), nothing else touched.
    client: redis.Redis = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match="cs:rl:*"):
        client.delete(key)
    client.close()
    return edge_settings(
        Settings.defaults().with_overrides(
            core={"data_dir": tmp.mktemp("edge-forwarding")},
            redis={"url": redis_url},
            siglip={"model": "tiny"},
        ),
        rate_limit_per_minute=60,
        **api,
    )


def _statuses(base: str, forwarded: list[str | None]) -> list[int]:
    with httpx.Client(base_url=base, timeout=30) as client:
        return [
            client.get("/healthz", headers={"X-Forwarded-For": f} if f else {}).status_code
            for f in forwarded
        ]


@pytest.fixture
def by_default(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    """No trusted proxy, behind uvicorn's own default (it trusts loopback's header)."""
    with serve_api(_settings(tmp_path_factory, redis_url), proxy_headers=True) as running:
        yield running


@pytest.fixture
def behind_proxy(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    """Loopback named as the trusted proxy; uvicorn's rewrite off (as `serve` runs it)."""
    settings = _settings(tmp_path_factory, redis_url, trusted_proxies="127.0.0.1")
    with serve_api(settings, proxy_headers=False) as running:
        yield running


def test_a_forged_forwarded_for_buys_no_fresh_bucket(by_default: Served) -> None:
    forged: list[str | None] = [f"198.51.100.{i}" for i in range(30)]
    statuses = _statuses(by_default.base, forged)
    assert statuses.count(429) >= 10, statuses
    # With a port, or a chain, it is the same shared bucket.
    assert set(_statuses(by_default.base, ["203.0.113.9:4444", "10.0.0.1, 203.0.113.10"])) == {429}


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(behind_proxy: Served) -> None:
    flooder = _statuses(behind_proxy.base, ["203.0.113.7"] * 30)
    assert flooder.count(429) >= 10, flooder
    # The proxy appends what it saw: the last hop that is not the proxy is the client.
    assert _statuses(behind_proxy.base, ["203.0.113.7, 203.0.113.8"]) == [200]
    assert _statuses(behind_proxy.base, ["203.0.113.8, 127.0.0.1"]) == [200]
    # The proxy's own requests (no header) have the proxy's bucket, not the flooder's.
    assert _statuses(behind_proxy.base, [None]) == [200]
