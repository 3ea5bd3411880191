"""Progress streams over real HTTP: only the seller's key (or an admin's) reads a sync,
streams are capped per key and per sync, and a poll does not recount the catalog."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import redis

from pipeline.records import ProductRecord
from pipeline.settings import Settings
from serve.stream_caps import STREAMS_PER_CLIENT, STREAMS_PER_SYNC
from tests.reliability.edge import ADMIN, Served, edge_settings, serve_api

SELLER = "streamer"
PRODUCTS = 2000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    flush: redis.Redis = redis.Redis.from_url(redis_url)
    flush.flushall()
    flush.close()
    settings = edge_settings(
        Settings.defaults().with_overrides(
            core={"data_dir": tmp_path_factory.mktemp("edge-streams")},
            redis={"url": redis_url},
            siglip={"model": "tiny"},
            catalog={"allowed_hosts": ("127.0.0.1",)},
        ),
        rate_limit_per_minute=60_000,
    )
    with serve_api(settings) as running:
        yield running


@pytest.fixture(scope="module")
def sync_id(served: Served) -> str:
    """A sync of a seller with 2,000 products; no worker runs, so it stays in progress."""
    served.deps.products.put_many(
        [
            ProductRecord(
                product_id=ProductRecord.make_id(SELLER, f"r{i}"),
                seller_id=SELLER,
                retailer_id=f"r{i}",
                name=f"mug {i}",
                price=Decimal("3.50"),
                currency="USD",
                image_urls=(f"http://127.0.0.1:9/{i}.jpg",),
                source_url="http://127.0.0.1:9/c/1",
            )
            for i in range(PRODUCTS)
        ]
    )
    with httpx.Client(base_url=served.base, timeout=30) as client:
        resp = client.post(
            f"/v1/sellers/{SELLER}/sync",
            json={"catalog_url": "http://127.0.0.1:9/c/15550001111"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
    assert resp.status_code == 202, resp.text
    sid: str = resp.json()["sync_id"]
    return sid


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_only_the_sellers_key_reads_a_sync(served: Served, sync_id: str) -> None:
    mine = served.deps.keys.create(seller_id=SELLER)
    other = served.deps.keys.create(seller_id="someone-else")
    with httpx.Client(base_url=served.base, timeout=30) as client:
        for path in (f"/v1/syncs/{sync_id}", f"/v1/syncs/{sync_id}/events"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers=_auth(other)).status_code == 404
        view = client.get(f"/v1/syncs/{sync_id}", headers=_auth(mine))
        assert view.status_code == 200 and view.json()["products"]["in_progress"] == PRODUCTS
        assert client.get(f"/v1/syncs/{sync_id}", headers=_auth(ADMIN)).status_code == 200


def _open(stack: contextlib.ExitStack, client: httpx.Client, path: str, key: str) -> int:
    """Open a stream and read its first line; it stays open until ``stack`` closes."""
    resp = stack.enter_context(client.stream("GET", path, headers=_auth(key)))
    if resp.status_code == 200:
        lines = resp.iter_lines()
        next(lines)  # the first event: the stream holds its slot
        # Dropping the line iterator would close the response: keep it with the stack.
        stack.callback(lambda: lines)
    return resp.status_code


def test_streams_are_capped_per_key_and_per_sync(served: Served, sync_id: str) -> None:
    path = f"/v1/syncs/{sync_id}/events"
    key = served.deps.keys.create(seller_id=SELLER)
    with httpx.Client(base_url=served.base, timeout=30) as client:
        with contextlib.ExitStack() as stack:
            codes = [_open(stack, client, path, key) for _ in range(STREAMS_PER_CLIENT + 1)]
            assert codes == [200] * STREAMS_PER_CLIENT + [429], codes
        with contextlib.ExitStack() as stack:
            keys = [served.deps.keys.create(seller_id=SELLER) for _ in range(STREAMS_PER_SYNC + 1)]
            codes = [_open(stack, client, path, k) for k in keys]
            assert codes == [200] * STREAMS_PER_SYNC + [429], codes
        # Closed streams give their slots back.
        deadline = time.monotonic() + 10
        while served.deps.stream_caps.open_streams() and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.ExitStack() as stack:
            assert _open(stack, client, path, key) == 200


def test_a_poll_does_not_read_every_product(served: Served, sync_id: str, redis_url: str) -> None:
    """While a stream runs (several polls), Redis runs no per-product read."""
    client_r: redis.Redis = redis.Redis.from_url(redis_url)
    key = served.deps.keys.create(seller_id=SELLER)
    with httpx.Client(base_url=served.base, timeout=30) as client:
        with contextlib.ExitStack() as stack:
            assert _open(stack, client, f"/v1/syncs/{sync_id}/events", key) == 200
            client_r.config_resetstat()
            time.sleep(2.0)  # four polls
            stats = client_r.info("commandstats")
    client_r.close()
    polls = int(stats.get("cmdstat_hgetall", {}).get("calls", 0))
    assert polls >= 2, stats  # the stream did poll (each poll reads the sync's job)
    per_product = sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("hmget", "hget")
    )
    assert per_product < 50, stats  # the old poll ran 2,000 HMGETs each time
