"""Token buckets against a real redis-server: grant, refusal with a wait, refill, races."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from pipeline.ledger.ratelimit import RedisRateLimiter
from pipeline.redis_keys import RedisKeys
from tests.keys import KEYS


def test_burst_is_granted_then_refused_with_the_wait(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, KEYS)
    for _ in range(5):
        assert limiter.acquire("gemini", rate_per_s=1.0, burst=5) == 0.0
    wait = limiter.acquire("gemini", rate_per_s=1.0, burst=5)
    assert 0.9 < wait <= 1.0
    # A refused call takes nothing: asking for 3 tokens needs ~3 s, not 4.
    assert 2.8 < limiter.acquire("gemini", rate_per_s=1.0, burst=5, tokens=3) <= 3.0


def test_refill_at_the_rate(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, KEYS)
    assert limiter.acquire("s1", rate_per_s=20.0, burst=2, tokens=2) == 0.0
    assert limiter.acquire("s1", rate_per_s=20.0, burst=2) > 0
    time.sleep(0.12)  # 20/s refills more than one token in 0.12 s
    assert limiter.acquire("s1", rate_per_s=20.0, burst=2) == 0.0


def test_keys_are_independent_and_namespaced(redis_client: redis.Redis) -> None:
    a = RedisRateLimiter(redis_client, RedisKeys("a"))
    b = RedisRateLimiter(redis_client, RedisKeys("b"))
    assert a.acquire("k", 1.0, 1) == 0.0
    assert a.acquire("k", 1.0, 1) > 0
    assert a.acquire("other", 1.0, 1) == 0.0
    assert b.acquire("k", 1.0, 1) == 0.0
    assert redis_client.ttl("a:rl:k") > 0  # buckets do not live forever


@pytest.mark.parametrize(
    ("rate", "burst", "tokens", "key"),
    [(0.0, 1, 1, "k"), (1.0, 0, 1, "k"), (1.0, 2, 3, "k"), (1.0, 2, 0, "k"), (1.0, 1, 1, "")],
)
def test_invalid_arguments_are_refused(
    redis_client: redis.Redis, rate: float, burst: int, tokens: int, key: str
) -> None:
    with pytest.raises(ValueError):
        RedisRateLimiter(redis_client, KEYS).acquire(key, rate, burst, tokens)


def test_concurrent_callers_never_exceed_the_bucket(redis_url: str) -> None:
    """8 threads, each with its own connection, race for 1 s on one bucket."""
    rate, burst, duration = 50.0, 10, 1.0
    granted: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()

    def hammer() -> None:
        client = redis.Redis.from_url(redis_url)
        limiter = RedisRateLimiter(client, KEYS)
        while time.monotonic() - start < duration:
            if limiter.acquire("shared", rate, burst) == 0.0:
                with lock:
                    granted.append(time.monotonic() - start)
        client.close()

    redis.Redis.from_url(redis_url).delete("cs:rl:shared")
    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads)
    # Never more than burst + rate x elapsed; and the bucket was actually used up.
    assert len(granted) <= burst + rate * elapsed + 1
    assert len(granted) >= burst + rate * duration * 0.6


def test_wait_blocks_until_granted_or_times_out(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, KEYS)
    limiter.wait("w", rate_per_s=20.0, burst=1)
    t0 = time.monotonic()
    limiter.wait("w", rate_per_s=20.0, burst=1, timeout=2.0)
    assert time.monotonic() - t0 >= 0.03
    with pytest.raises(TimeoutError):
        limiter.wait("w", rate_per_s=0.01, burst=1, timeout=0.1)
