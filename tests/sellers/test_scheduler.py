"""The re-sync scheduler and its leader lock, on a real redis-server with a manual clock."""

from __future__ import annotations

import pytest
import redis

from pipeline.ledger import RedisLedger
from pipeline.records import JobState, JobType, Priority
from pipeline.schedule import FencedError, ResyncScheduler
from pipeline.sellers import RedisSellerDirectory, SellerTier, next_slot, schedule_offset
from pipeline.settings import Settings
from tests.keys import KEYS

DAY = 86_400.0
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(
    client: redis.Redis, settings: Settings, clock: Clock, holder: str, **schedule: object
) -> ResyncScheduler:
    sched = settings.with_overrides(schedule={"lock_ttl_s": 30.0, **schedule}).schedule
    ledger = RedisLedger(client, settings.jobs, clock=clock, keys=KEYS)
    return ResyncScheduler(client, ledger, sched, holder=holder, clock=clock)


def register(
    client: redis.Redis, clock: Clock, *sellers: str, tier: SellerTier | None = None
) -> None:
    directory = RedisSellerDirectory(client, KEYS, resync_period_s=DAY, clock=clock)
    for seller in sellers:
        directory.upsert(seller, catalog_url=f"https://wa.me/c/{seller}", tier=tier)


def test_offsets_spread_sellers_over_the_period() -> None:
    offsets = sorted(schedule_offset(f"seller-{i}", DAY) for i in range(2000))
    # Deterministic, inside the period, and roughly uniform: each hour holds ~1/24 of them.
    assert offsets == sorted(schedule_offset(f"seller-{i}", DAY) for i in range(2000))
    assert 0 <= offsets[0] and offsets[-1] < DAY
    per_hour = [sum(1 for o in offsets if h * 3600 <= o < (h + 1) * 3600) for h in range(24)]
    assert min(per_hour) > 2000 / 24 * 0.6 and max(per_hour) < 2000 / 24 * 1.4
    slot = next_slot("seller-1", DAY, T0)
    assert T0 < slot <= T0 + DAY
    assert (slot - schedule_offset("seller-1", DAY)) % DAY == pytest.approx(0, abs=1e-3)
    assert next_slot("seller-1", DAY, slot) == pytest.approx(slot + DAY)


def test_due_sellers_are_queued_once_per_period(
    redis_client: redis.Redis, settings: Settings
) -> None:
    clock = Clock()
    register(redis_client, clock, "a1", "b2", "c3")
    sched = make(redis_client, settings, clock, "w1")
    assert sched.tick() == []  # nobody due yet: each waits for its own slot
    directory = sched.directory
    dues = {s: directory.get(s).next_sync_due for s in ("a1", "b2", "c3")}  # type: ignore[union-attr]
    first = min(dues, key=lambda s: dues[s])
    clock.now = dues[first] + 1
    assert sched.tick() == [first]
    assert sched.tick() == []  # the same slot is not queued twice
    profile = directory.get(first)
    assert profile is not None and profile.last_sync_id is not None
    job = sched._ledger.get(profile.last_sync_id)
    assert job is not None and job.type is JobType.SYNC_SELLER and job.state is JobState.WAITING
    assert profile.next_sync_due == pytest.approx(dues[first] + DAY)
    # A day later, everyone has been queued exactly once.
    clock.now = T0 + DAY + 1
    assert sorted(sched.tick()) == sorted(s for s in dues if s != first)
    assert sched.tick() == []
    created = redis_client.hget("cs:count:sync-seller", "created")
    assert int(created or 0) == 3


def test_two_schedulers_racing_elect_one(redis_client: redis.Redis, settings: Settings) -> None:
    clock = Clock()
    register(redis_client, clock, *(f"s{i}" for i in range(20)))
    one = make(redis_client, settings, clock, "w1")
    two = make(redis_client, settings, clock, "w2")
    clock.now = T0 + DAY + 1  # everyone due
    results = [one.tick(), two.tick(), two.tick(), one.tick()]
    assert one.is_leader and not two.is_leader
    assert sorted(results[0]) == sorted(f"s{i}" for i in range(20))
    assert results[1:] == [[], [], []]
    assert int(redis_client.hget("cs:count:sync-seller", "created") or 0) == 20


def test_lock_expiry_hands_over_and_fences_the_old_leader(
    redis_client: redis.Redis, settings: Settings
) -> None:
    clock = Clock()
    register(redis_client, clock, "x1", "y2")
    one = make(redis_client, settings, clock, "w1")
    two = make(redis_client, settings, clock, "w2")
    one.tick()
    old_token = one.token
    assert old_token is not None
    clock.now += 10
    assert two.tick() == [] and not two.is_leader  # w1's lease still runs
    clock.now += 31  # w1 paused past its lease
    two.tick()
    assert two.is_leader and two.token != old_token
    assert int(two.token or 0) > int(old_token)
    # w1 wakes up and carries on with its old token: every write is refused.
    with pytest.raises(FencedError):
        one.claim_due(old_token, clock.now)
    with pytest.raises(FencedError):
        one.commit(old_token, [("x1", clock.now)])
    assert one.tick() == [] and not one.is_leader
    # The new leader queues what becomes due; a release hands over at once.
    clock.now = T0 + DAY + 1
    assert sorted(two.tick()) == ["x1", "y2"]
    two.release()
    one.tick()
    assert one.is_leader


def test_a_claimed_seller_whose_sync_was_not_queued_comes_back(
    redis_client: redis.Redis, settings: Settings
) -> None:
    clock = Clock()
    register(redis_client, clock, "z1")
    sched = make(redis_client, settings, clock, "w1", claim_lease_s=60.0)
    clock.now = T0 + DAY + 1
    token = sched.lock.acquire(clock.now)
    assert token is not None
    assert sched.claim_due(token, clock.now) == ["z1"]  # then the process "crashes"
    assert sched.claim_due(token, clock.now + 1) == []
    clock.now += 61
    sched.token = token
    assert sched.tick() == ["z1"]


def test_tier_priority_of_scheduled_and_requested_syncs(
    redis_client: redis.Redis, settings: Settings
) -> None:
    clock = Clock()
    register(redis_client, clock, "p1", tier=SellerTier.PREMIUM)
    register(redis_client, clock, "n1")
    register(redis_client, clock, "b1", tier=SellerTier.BASIC)
    sched = make(redis_client, settings, clock, "w1")
    clock.now = T0 + DAY + 1
    sched.tick()
    directory = sched.directory
    prios = {}
    for seller in ("p1", "n1", "b1"):
        profile = directory.get(seller)
        assert profile is not None and profile.last_sync_id
        job = sched._ledger.get(profile.last_sync_id)
        assert job is not None
        prios[seller] = job.priority
    assert prios == {"p1": Priority.HIGH, "n1": Priority.NORMAL, "b1": Priority.LOW}
