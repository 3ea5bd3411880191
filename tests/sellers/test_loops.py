"""The worker's seller loops on the real clock: a registered seller comes due, the
scheduler queues its sync, a consumer runs it through the ledger, and the seller's
receiver gets signed started and completed events."""

from __future__ import annotations

import asyncio
import json
import time

import redis

from pipeline.ledger import RedisLedger
from pipeline.notify import SIGNATURE_HEADER, verify
from pipeline.records import JobType
from pipeline.schedule.loops import seller_loops
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings
from tests.keys import KEYS
from tests.sellers.receiver import webhook_receiver

SECRET = "whsec_loops_0123456789abcdef"


def test_scheduled_sync_and_its_webhooks(redis_client: redis.Redis, settings: Settings) -> None:
    with webhook_receiver() as receiver:
        settings = settings.with_overrides(
            catalog={"allowed_hosts": (receiver.netloc,)},
            schedule={"resync_hours": 2 / 3600, "tick_s": 0.1, "lock_ttl_s": 5.0},
            webhooks={"poll_s": 0.1, "progress_interval_s": 0},
        )
        ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)

        async def scenario() -> list[str]:
            async with seller_loops(settings, ledger, redis_client) as tasks:
                assert len(tasks) == 2
                await asyncio.sleep(0.3)  # the notifier's cursor starts at the stream's end
                RedisSellerDirectory(redis_client, KEYS, resync_period_s=2.0).upsert(
                    "shop1",
                    catalog_url="https://wa.me/c/15550001",
                    webhook_url=receiver.url,
                    webhook_secret=SECRET,
                )
                deadline = time.monotonic() + 20
                claimed = []
                while not claimed and time.monotonic() < deadline:  # due within 2 s
                    claimed = await asyncio.to_thread(
                        ledger.claim, JobType.SYNC_SELLER, "test", 1, 200
                    )
                assert claimed, "the scheduler queued nothing"
                ledger.complete(claimed[0])
                while len(receiver.requests) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            return [json.loads(r.body)["type"] for r in receiver.requests]

        kinds = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
        assert kinds[:2] == ["sync.started", "sync.completed"]
        for r in receiver.requests:
            assert verify(SECRET, r.body, r.headers[SIGNATURE_HEADER.lower()], now=time.time())
        # The loops gave the scheduler lock up on the way out.
        assert redis_client.get("cs:scheduler:lock") is None
