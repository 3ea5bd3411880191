"""Pydantic models cached as JSON in Redis under a TTL, for answers worth not asking for
twice (QC verdicts, Gemini's page readings).

A cache saves calls and decides nothing: a Redis error is logged and counts as a miss (or
a skipped write), and an entry another release wrote under another schema is a miss,
dropped so it is not read again.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Generic, TypeVar, cast

import redis
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class RedisModelCache(Generic[M]):
    """``key`` -> ``model`` as JSON; ``what`` names the cache in log lines."""

    def __init__(self, client: redis.Redis, model: type[M], *, ttl_s: int, what: str) -> None:
        self._client = client
        self._model = model
        self._ttl = ttl_s
        self._what = what

    def get(self, key: str) -> M | None:
        try:
            raw = cast(bytes | None, self._client.get(key))
        except redis.RedisError as exc:
            logger.warning("%s cache read failed for %s: %s", self._what, key, exc)
            return None
        if raw is None:
            return None
        try:
            return self._model.model_validate_json(raw)
        except ValidationError:
            logger.warning("%s cache entry %s is unreadable; dropping it", self._what, key)
            with contextlib.suppress(redis.RedisError):
                self._client.delete(key)
            return None

    def put(self, key: str, value: M) -> None:
        """Stores ``value`` (nothing when the TTL is 0)."""
        if self._ttl <= 0:
            return
        try:
            self._client.set(key, value.model_dump_json(), ex=self._ttl)
        except redis.RedisError as exc:
            logger.warning("%s cache write failed for %s: %s", self._what, key, exc)
