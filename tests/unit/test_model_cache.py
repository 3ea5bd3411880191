"""The Redis JSON cache behind QC verdicts and Gemini's page readings, on a real
redis-server: it saves calls and decides nothing."""

from __future__ import annotations

import redis
from pydantic import BaseModel
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.model_cache import RedisModelCache


class Answer(BaseModel):
    text: str


def test_round_trip_with_the_ttl(redis_client: redis.Redis) -> None:
    cache = RedisModelCache(redis_client, Answer, ttl_s=60, what="test")
    assert cache.get("k") is None
    cache.put("k", Answer(text="yes"))
    assert cache.get("k") == Answer(text="yes")
    assert 0 < redis_client.ttl("k") <= 60


def test_an_entry_of_another_schema_is_a_miss_and_dropped(redis_client: redis.Redis) -> None:
    redis_client.set("k", '{"words": "old release"}')
    assert RedisModelCache(redis_client, Answer, ttl_s=60, what="test").get("k") is None
    assert not redis_client.exists("k")


def test_a_zero_ttl_writes_nothing(redis_client: redis.Redis) -> None:
    RedisModelCache(redis_client, Answer, ttl_s=0, what="test").put("k", Answer(text="x"))
    assert not redis_client.exists("k")


def test_redis_down_is_a_miss_not_an_error() -> None:
    no_retries = Retry(NoBackoff(), 0)
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=no_retries)
    cache = RedisModelCache(gone, Answer, ttl_s=60, what="test")
    assert cache.get("k") is None
    cache.put("k", Answer(text="x"))  # logged, not raised
