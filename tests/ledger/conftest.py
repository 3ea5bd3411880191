"""Ledger fixtures: a ledger on the session's redis-server (emptied per test) whose clock
the test moves by hand, so leases and backoff are exercised without sleeping."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.records import JobType, Priority
from pipeline.settings import JobSettings
from tests.keys import KEYS


class ManualClock:
    """A time source that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def job_settings() -> JobSettings:
    return JobSettings(timeout=30.0, max_attempts=3, backoff_base=2.0, backoff_jitter=0.0)


@pytest.fixture
def ledger(redis_client: redis.Redis, job_settings: JobSettings, clock: ManualClock) -> RedisLedger:
    return RedisLedger(redis_client, job_settings, clock=clock, keys=KEYS)


def qc_spec(
    n: int = 0,
    seller: str = "s1",
    priority: Priority = Priority.NORMAL,
    **extra: Any,
) -> JobSpec:
    """A small valid quality-control job."""
    payload = {"product_id": f"p{n}", "seller_id": seller, "content_hash": f"{n:08x}"}
    return JobSpec(JobType.QUALITY_CONTROL, payload, seller, priority=priority, **extra)
