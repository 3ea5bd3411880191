"""Webhooks against a local HTTP receiver (allow-listed), over a real redis-server ledger."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from pipeline.errors import UnsafeURLError
from pipeline.fetch.guard import UrlGuard
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.notify import SIGNATURE_HEADER, WebhookNotifier, check_webhook_url, sign, verify
from pipeline.records import JobType
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings
from pipeline.syncs import start_sync
from tests.keys import KEYS
from tests.sellers.receiver import Receiver, webhook_receiver

SECRET = "whsec_test_0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def hook_settings(settings: Settings, receiver: Receiver, **webhooks: object) -> Settings:
    return settings.with_overrides(
        catalog={"allowed_hosts": (receiver.netloc,), "fetch_timeout": 5.0},
        webhooks={"backoff_base_s": 2.0, "timeout_s": 5.0, **webhooks},
    )


def notifier(client: redis.Redis, settings: Settings, clock: Clock) -> WebhookNotifier:
    ledger = RedisLedger(client, settings.jobs, clock=clock, keys=KEYS)
    return WebhookNotifier(client, ledger, settings, clock=clock, jitter=0.0)


def register(client: redis.Redis, receiver: Receiver, seller: str = "s1") -> None:
    RedisSellerDirectory(client, KEYS).upsert(
        seller, webhook_url=receiver.url, webhook_secret=SECRET
    )


def run_sync(
    client: redis.Redis,
    ledger: RedisLedger,
    seller: str,
    children: int = 2,
    between: Callable[[], object] = lambda: None,
) -> str:
    """A sync through the ledger: started, ``children`` jobs completing, completed;
    ``between`` runs after each step (a pump, in the tests that want progress seen)."""
    sync_id = start_sync(ledger, client, seller, f"https://wa.me/c/{seller}").sync_id
    (sync,) = ledger.claim(JobType.SYNC_SELLER, "w", 1)
    specs = [
        JobSpec(
            JobType.QUALITY_CONTROL,
            {"product_id": f"p{i}", "seller_id": seller, "content_hash": "ab" * 32},
            seller,
        )
        for i in range(children)
    ]
    ledger.add_children(sync_id, specs)
    ledger.complete(sync)
    between()
    for job in ledger.claim(JobType.QUALITY_CONTROL, "w", children):
        ledger.complete(job)
        between()
    return sync_id


def deliver(n: WebhookNotifier) -> int:
    async def go() -> int:
        try:
            n.pump()
            return await n.deliver()
        finally:
            await n.aclose()

    return asyncio.run(asyncio.wait_for(go(), timeout=60))


def bodies(receiver: Receiver) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in receiver.requests]


def test_signature_roundtrip_and_tampering() -> None:
    body = b'{"type":"sync.completed"}'
    header = sign(SECRET, body, 1_800_000_000)
    assert header.startswith("t=1800000000,v1=")
    assert verify(SECRET, body, header, now=1_800_000_100)
    assert not verify(SECRET, body + b" ", header, now=1_800_000_100)
    assert not verify("whsec_another_secret_value", body, header, now=1_800_000_100)
    assert not verify(SECRET, body, header, now=1_800_000_000 + 301)  # replayed later
    assert not verify(SECRET, body, "v1=abc", now=1_800_000_000)
    assert not verify(SECRET, body, "t=x,v1=", now=1_800_000_000)


def test_sync_events_are_delivered_signed(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver, progress_interval_s=0)
    clock = Clock()
    n = notifier(redis_client, settings, clock)
    n.pump()  # cursor set at the stream's end: earlier history is not sent
    register(redis_client, receiver)
    sync_id = run_sync(redis_client, n._ledger, "s1", between=n.pump)
    run_sync(redis_client, n._ledger, "nohook", between=n.pump)  # no webhook: nothing sent
    # The last child's end and the sync's completion share a pump: completed says it all.
    assert deliver(n) == 3
    received = sorted(bodies(receiver), key=lambda b: str(b["id"]))
    kinds = [b["type"] for b in received]
    assert kinds == ["sync.started", "sync.progress", "sync.completed"]
    assert {b["sync_id"] for b in received} == {sync_id}
    progress = received[1]["data"]
    assert isinstance(progress, dict) and progress["progress"] == 50.0
    assert progress["jobs"] == {"total": 2, "completed": 1, "dead": 0, "pending": 1}
    done = received[2]["data"]
    assert isinstance(done, dict) and done["state"] == "completed"
    assert done["stages"]["quality-control"]["completed"] == 2
    for r in receiver.requests:
        assert r.path == "/hooks/catalog"
        assert r.headers["content-type"] == "application/json"
        assert verify(SECRET, r.body, r.headers[SIGNATURE_HEADER.lower()], now=time.time())
        assert r.headers["x-catalogsync-delivery"] == json.loads(r.body)["id"]
    assert n.outbox.pending() == 0 and n.outbox.stats()["delivered"] == 3
    assert deliver(n) == 0  # nothing is sent twice


def test_progress_is_throttled_per_sync(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver, progress_interval_s=60)
    clock = Clock()
    n = notifier(redis_client, settings, clock)
    n.pump()
    register(redis_client, receiver)
    run_sync(redis_client, n._ledger, "s1", children=20, between=n.pump)
    deliver(n)
    kinds = [b["type"] for b in bodies(receiver)]
    assert kinds.count("sync.progress") <= 1
    assert kinds.count("sync.started") == 1 and kinds.count("sync.completed") == 1


def test_retries_after_500s_then_delivers(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver)
    clock = Clock()
    n = notifier(redis_client, settings, clock)
    n.pump()
    register(redis_client, receiver)
    ledger = n._ledger
    start_sync(ledger, redis_client, "s1", "https://wa.me/c/s1")
    ledger.claim(JobType.SYNC_SELLER, "w", 1)  # sync.started
    receiver.statuses = [500, 503]
    assert deliver(n) == 1
    assert deliver(n) == 0  # not due yet: backoff 2 s
    clock.now += 2.01
    assert deliver(n) == 1  # second attempt: 503
    clock.now += 2.01
    assert deliver(n) == 0  # backoff doubled: 4 s
    clock.now += 2.0
    assert deliver(n) == 1
    ids = {r.headers["x-catalogsync-delivery"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1  # the same delivery, retried
    assert n.outbox.pending() == 0 and n.outbox.stats() == {
        "produced": 1,
        "retry": 2,
        "delivered": 1,
    }


def test_gives_up_to_dead_letters_after_max_attempts(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver, max_attempts=3, backoff_max_s=5.0)
    clock = Clock()
    n = notifier(redis_client, settings, clock)
    n.pump()
    register(redis_client, receiver)
    start_sync(n._ledger, redis_client, "s1", "https://wa.me/c/s1")
    n._ledger.claim(JobType.SYNC_SELLER, "w", 1)
    receiver.statuses = [500] * 10
    receiver.retry_after = "3"
    for _ in range(3):
        assert deliver(n) == 1
        clock.now += 5.0
    assert deliver(n) == 0
    assert len(receiver.requests) == 3
    (dead,) = n.outbox.dead()
    assert dead["state"] == "dead" and dead["attempt"] == "3"
    assert "answered 500" in dead["error"]
    assert dead["body"]["type"] == "sync.started"
    assert n.backoff(1, retry_after=3.0) == 3.0  # Retry-After above the backoff wins
    assert n.backoff(10) == 5.0  # capped


def test_unreachable_and_removed_webhooks(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver, max_attempts=2)
    clock = Clock()
    n = notifier(redis_client, settings, clock)
    n.pump()
    directory = RedisSellerDirectory(redis_client, KEYS)
    # A URL that passed registration but now points at a private address: refused, dead.
    directory.upsert("s1", webhook_url="http://10.1.2.3/hook", webhook_secret=SECRET)
    register(redis_client, receiver, "s2")
    for seller in ("s1", "s2"):
        start_sync(n._ledger, redis_client, seller, f"https://wa.me/c/{seller}")
    n._ledger.claim(JobType.SYNC_SELLER, "w", 2)
    n.pump()
    directory.upsert("s2", remove_webhook=True)
    assert deliver(n) == 2
    errors = sorted(d["error"] for d in n.outbox.dead())
    assert errors[0].startswith("refused") and errors[1] == "webhook removed"
    assert receiver.requests == []


def test_racing_pumps_produce_each_event_once(
    redis_client: redis.Redis, settings: Settings, receiver: Receiver
) -> None:
    settings = hook_settings(settings, receiver, progress_interval_s=0)
    clock = Clock()
    pumps = [notifier(redis_client, settings, clock) for _ in range(3)]
    pumps[0].pump()
    register(redis_client, receiver)
    for i in range(30):
        RedisSellerDirectory(redis_client, KEYS).upsert(
            f"s{i}", webhook_url=receiver.url, webhook_secret=SECRET
        )
        run_sync(redis_client, pumps[0]._ledger, f"s{i}", children=3)
    threads = [threading.Thread(target=p.pump) for p in pumps for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # Per sync: started and completed (its progress came in the same batch: superseded).
    assert pumps[0].outbox.pending() == 30 * 2
    assert pumps[0].outbox.stats()["produced"] == 30 * 2


def test_private_webhook_urls_are_refused_at_registration() -> None:
    guard = UrlGuard(("127.0.0.1:9999",))

    async def check(url: str) -> None:
        await asyncio.wait_for(check_webhook_url(url, guard), timeout=10)

    for url in (
        "http://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://0x7f.1/hook",
        "ftp://example.com/hook",
        "https://user:pw@93.184.215.14/hook",
        "http://93.184.215.14/hook",  # public, but plain http
    ):
        with pytest.raises(UnsafeURLError):
            asyncio.run(check(url))
    asyncio.run(check("https://93.184.215.14/hook"))
    asyncio.run(check("http://127.0.0.1:9999/hook"))  # allow-listed: tests, internal hosts
