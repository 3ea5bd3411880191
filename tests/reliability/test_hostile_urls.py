"""Hostile catalog URLs: refused with a reason, at the API or in the worker, never fetched.

Every URL goes through ``POST /v1/sellers/{id}/sync`` (422 with a reason, or accepted and
then refused by the worker's fetch guard: the sync's scrape is a dead letter whose error
names the reason), and again as a ``scrape-catalog`` job queued straight into the ledger,
past the API's check: the ledger refuses it at enqueue or the worker fails it permanently
on its first attempt. A real dispatcher runs the real scrape stage in-process.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from pipeline.dispatcher import Dispatcher
from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobState, JobType
from pipeline.remote.scraper import ScraperWorker
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.stages.scrape import ScrapeHandler, SyncSellerHandler
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from tests.keys import KEYS
from tests.reliability.harness import wait_for
from tests.sources.httpserver import Reply, TestServer

ADMIN = "admin-hostile-key-0123456789"
REASON = re.compile(
    r"non-public address|only http and https|credentials|not a valid|does not resolve|"
    r"no address|control characters|malformed|has no host|characters a domain",
    re.I,
)

PRIVATE = [
    "http://127.0.0.1/shop",
    "http://localhost/shop",  # a DNS name resolving to loopback
    "http://127.1/shop",
    "http://2130706433/shop",  # decimal 127.0.0.1
    "http://0x7f000001/shop",  # hex
    "http://0177.0.0.1/shop",  # octal
    "http://0.0.0.0/shop",
    "http://10.0.0.5/shop",
    "http://172.16.3.4/shop",
    "http://192.168.1.1/shop",
    "http://100.64.0.1/shop",  # CGNAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://0xa9fea9fe/latest/meta-data/",  # metadata, hex
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "http://[::1]/shop",
    "http://[::ffff:127.0.0.1]/shop",  # IPv6-mapped
    "http://[::ffff:a9fe:a9fe]/shop",  # IPv6-mapped metadata
    "http://[64:ff9b::10.0.0.1]/shop",  # NAT64 of a private address
    "http://[fe80::1%25eth0]/shop",  # link-local with a zone
    "http://user:pw@example.com/shop",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_GET",
    "data:text/html,<h1>catalog</h1>",
    "http://ex\u0000ample.com/shop",
]


@dataclass
class Rig:
    client: httpx.AsyncClient
    deps: ApiDeps
    runner: asyncio.Runner
    server: TestServer

    def post(self, seller: str, url: str) -> httpx.Response:
        return self.runner.run(
            self.client.post(
                f"/v1/sellers/{seller}/sync",
                json={"catalog_url": url},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
        )


def _worker(settings: Settings, deps: ApiDeps, stop: threading.Event) -> None:
    """The real sync and scrape stages under a real dispatcher, scraping in-process."""

    async def main() -> None:
        scraper = ScraperWorker(settings)
        handlers = [
            SyncSellerHandler(),
            ScrapeHandler(
                scraper, RedisProductStore(deps.redis, KEYS), deps.vectors, deps.keywords
            ),
        ]
        done = asyncio.Event()
        dispatcher = Dispatcher(deps.ledger, handlers, concurrency=4, lease_s=30)

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.1)
            done.set()

        watcher = asyncio.create_task(watch())
        await dispatcher.run(done, grace_s=10)
        await watcher
        await scraper.aclose()

    asyncio.run(main())


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Rig]:
    server = TestServer()
    # An allowed host that redirects into a private one (another port is not allowed).
    server.route("/hop", Reply(302, headers={"Location": "http://127.0.0.1:9/admin"}))
    server.route("/hop2", Reply(302, headers={"Location": "http://169.254.169.254/"}))
    server.start()
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("hostile-urls")},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
        api={"admin_key": ADMIN, "rate_limit_per_minute": 100_000},
        jobs={"backoff_base": 0.1},
        catalog={"allowed_hosts": (f"127.0.0.1:{server.port}",), "fetch_timeout": 5},
    )
    flush: redis.Redis = redis.Redis.from_url(redis_url)
    flush.flushall()
    flush.close()
    runner = asyncio.Runner()
    embedder = LocalSiglipEmbedder.from_settings(settings)
    deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
    app = create_api(deps)

    async def make_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30
        )

    client = runner.run(make_client())
    stop = threading.Event()
    worker = threading.Thread(target=_worker, args=(settings, deps, stop), daemon=True)
    worker.start()
    try:
        yield Rig(client, deps, runner, server)
    finally:
        stop.set()
        worker.join(60)
        runner.run(client.aclose())
        runner.run(deps.aclose())
        runner.run(embedder.aclose())
        runner.close()
        server.stop()


def _dead_reason(ledger: RedisLedger, job_id: str) -> str:
    def ended() -> object:
        job = ledger.get(job_id)
        return job if job is not None and job.state in (JobState.DEAD, JobState.COMPLETED) else None

    job = wait_for(ended, 60, f"job {job_id} to end", 0.1)
    assert job.state is JobState.DEAD, f"{job.id} was fetched and completed: {job.result}"
    assert job.attempt == 1, "a refused URL must not be retried"
    return str(job.last_error)


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_foreign_urls_are_refused_by_the_api_and_the_worker(rig: Rig, url: str) -> None:
    seller = f"h{abs(hash(url)) % 10**9}"
    resp = rig.post(seller, url)
    assert resp.status_code in (202, 422), resp.text
    if resp.status_code == 422:
        assert resp.json()["detail"], resp.text
    else:
        sync_id = resp.json()["sync_id"]
        wait_for(
            lambda: rig.deps.ledger.dlq_list(seller_id=seller),
            60,
            f"the scrape of {url} to be refused",
            0.1,
        )
        [dead] = rig.deps.ledger.dlq_list(seller_id=seller)
        assert dead.parent_id == sync_id
        assert REASON.search(str(dead.last_error)), dead.last_error
    # Straight into the ledger, past the API's check.
    spec = JobSpec(
        JobType.SCRAPE_CATALOG,
        {"seller_id": seller, "catalog_url": url, "source": "storefront"},
        seller_id=seller,
    )
    try:
        job = rig.deps.ledger.enqueue(spec)
    except PermanentError as exc:
        assert str(exc)  # refused at the door, with the reason
        return
    assert REASON.search(_dead_reason(rig.deps.ledger, job.id))
    assert rig.server.seen == [] or all(s.path.startswith("/hop") for s in rig.server.seen)


@pytest.mark.parametrize("path", ["/hop", "/hop2"])
def test_a_redirect_from_an_allowed_host_into_a_private_one_is_refused(rig: Rig, path: str) -> None:
    seller = f"redirect{path.strip('/')}"
    resp = rig.post(seller, rig.server.url(path))
    assert resp.status_code == 202, resp.text
    wait_for(lambda: rig.deps.ledger.dlq_list(seller_id=seller), 60, "the refusal", 0.1)
    [dead] = rig.deps.ledger.dlq_list(seller_id=seller)
    assert dead.attempt == 1
    assert "non-public address" in str(dead.last_error), dead.last_error
    assert any(s.path == path for s in rig.server.seen)  # the first hop was fetched
