"""Search answers cached in Redis under the search generation they were computed at.

Every change that can alter results bumps the generation, so a sync makes older entries
unreachable at once, without a scan; they expire with the TTL. The answers are JSON
(``dataclasses.asdict`` of a response); sellers' names and contacts are added again to
every answer read back, so a profile edit shows at once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis.asyncio as aredis

from pipeline.redis_keys import RedisKeys


class AnswerCache:
    def __init__(self, client: aredis.Redis | None, ttl: int, keys: RedisKeys) -> None:
        """No client or a TTL of 0: nothing is cached."""
        self._client = client if ttl > 0 else None
        self._ttl = ttl
        self._keys = keys

    def key(self, generation: int, *question: Any) -> str:
        """The key of the answer to ``question`` (JSON-able parts) at ``generation``."""
        material = json.dumps(question, default=str, sort_keys=True)
        return self._keys.search_cache(
            generation, hashlib.sha256(material.encode()).hexdigest()[:32]
        )

    async def get(self, key: str) -> dict[str, Any] | None:
        if self._client is None:
            return None
        raw = await self._client.get(key)
        return json.loads(raw) if raw is not None else None

    async def put(self, key: str, answer: dict[str, Any]) -> None:
        if self._client is not None:
            await self._client.set(key, json.dumps(answer, default=str), ex=self._ttl)
