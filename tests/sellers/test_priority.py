"""Seller tiers decide queue priority: a premium seller's jobs are claimed first."""

from __future__ import annotations

import redis

from pipeline.ledger import ClaimedJob, RedisLedger
from pipeline.records import JobType, Priority
from pipeline.redis_keys import RedisKeys
from pipeline.sellers import RedisSellerDirectory, SellerTier
from pipeline.settings import Settings
from pipeline.stages.base import child_spec
from pipeline.syncs import start_sync
from tests.keys import KEYS

URL = "https://wa.me/c/{}"


def test_premium_sync_is_claimed_before_waiting_normal_ones(
    redis_client: redis.Redis, settings: Settings
) -> None:
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    directory = RedisSellerDirectory(redis_client, KEYS)
    directory.upsert("vip", tier=SellerTier.PREMIUM)
    directory.upsert("cheap", tier=SellerTier.BASIC)
    order = ["n1", "cheap", "n2", "vip", "n3"]  # no priority given: each seller's tier decides
    ids = {s: start_sync(ledger, redis_client, s, URL.format(s)).sync_id for s in order}
    claimed = [c.seller_id for c in ledger.claim(JobType.SYNC_SELLER, "w", 10)]
    assert claimed == ["vip", "n1", "n2", "n3", "cheap"]
    job = ledger.get(ids["vip"])
    assert job is not None and job.priority is Priority.HIGH
    # An explicit request priority still wins over the tier.
    ledger2 = RedisLedger(redis_client, settings.jobs, keys=RedisKeys("other"))
    started = start_sync(ledger2, redis_client, "vip", URL.format("vip"), priority=Priority.LOW)
    job2 = ledger2.get(started.sync_id)
    assert job2 is not None and job2.priority is Priority.LOW


def test_profile_records_last_sync_and_hides_the_secret(redis_client: redis.Redis) -> None:
    directory = RedisSellerDirectory(redis_client, KEYS)
    profile, secret = directory.upsert("s1", webhook_url="https://hooks.example.com/x")
    assert secret is not None and secret.startswith("whsec_")
    assert profile.webhook_secret == secret
    shown = profile.public()
    assert "webhook_secret" not in shown and shown["webhook_secret_set"] is True
    again, none = directory.upsert("s1", tier=SellerTier.PREMIUM)
    assert none is None and again.webhook_secret == secret and again.tier is SellerTier.PREMIUM
    removed, _ = directory.upsert("s1", remove_webhook=True)
    assert removed.webhook_url is None and removed.webhook_secret is None
    assert directory.priority_for("s1") is Priority.HIGH
    assert directory.priority_for("unknown") is Priority.NORMAL


def test_follow_up_jobs_inherit_the_sync_priority(
    redis_client: redis.Redis, settings: Settings
) -> None:
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    RedisSellerDirectory(redis_client, KEYS).upsert("vip", tier=SellerTier.PREMIUM)
    start_sync(ledger, redis_client, "plain", URL.format("plain"))
    start_sync(ledger, redis_client, "vip", URL.format("vip"))
    syncs = ledger.claim(JobType.SYNC_SELLER, "w", 10)
    # Children are added normal-seller first; the premium seller's still comes out first.
    for sync in sorted(syncs, key=lambda c: c.seller_id != "plain"):
        payload = {"seller_id": sync.seller_id, "catalog_url": URL.format(sync.seller_id)}
        payload["source"] = "auto"
        ledger.add_children(
            sync.job_id,
            [child_spec(sync, JobType.SCRAPE_CATALOG, payload, f"scrape:{sync.job_id}")],
        )
    scrapes: list[ClaimedJob] = ledger.claim(JobType.SCRAPE_CATALOG, "w", 10)
    assert [c.seller_id for c in scrapes] == ["vip", "plain"]
