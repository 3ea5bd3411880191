"""Search-as-you-type suggestions: frequent past queries and live products' names.

Past queries are counted in one Redis sorted set (only queries that found something, and
only shown once at least ``MIN_QUERY_COUNT`` searches asked them, so one shopper's
private words never show up for another). Product names come from the keyword index when
it can answer prefixes (the embedded index can; Elasticsearch contributes past queries
only).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

import redis.asyncio as aredis
from rapidfuzz.distance import OSA

from pipeline.keyword import analysis
from pipeline.redis_keys import RedisKeys

MAX_PREFIX = 100
MAX_SUGGESTIONS = 20
MAX_QUERIES_KEPT = 10_000
MIN_QUERY_COUNT = 2
_SCANNED = 500  # most frequent past queries looked at per suggestion


@runtime_checkable
class PrefixSuggester(Protocol):
    def suggest(self, prefix: str, limit: int = 8) -> list[str]: ...


class Suggester:
    def __init__(self, keywords: object, cache: aredis.Redis | None, keys: RedisKeys) -> None:
        self._names = keywords if isinstance(keywords, PrefixSuggester) else None
        self._cache = cache
        self._key = keys.search_queries

    async def record(self, normalized_query: str) -> None:
        """Counts one search that found something (the caller checks it did)."""
        if self._cache is None or not normalized_query or len(normalized_query) > MAX_PREFIX:
            return
        pipe = self._cache.pipeline(transaction=False)
        pipe.zincrby(self._key, 1, normalized_query)
        pipe.zremrangebyrank(self._key, 0, -MAX_QUERIES_KEPT - 1)
        await pipe.execute()

    async def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """Up to ``limit`` suggestions for what the shopper has typed so far: past queries
        first (most frequent first), then product names; a typo in the prefix is allowed
        (one edit from five letters)."""
        folded = " ".join(analysis.words(prefix[:MAX_PREFIX]))
        if not folded:
            return []
        names_task = (
            asyncio.to_thread(self._names.suggest, prefix[:MAX_PREFIX], limit)
            if self._names is not None
            else None
        )
        queries = await self._past_queries(folded, limit)
        names = await names_task if names_task is not None else []
        out: dict[str, str] = {}
        for text in [*queries[: max(1, limit // 2)], *names, *queries]:
            out.setdefault(analysis.fold(text), text)
        return list(out.values())[:limit]

    async def _past_queries(self, folded: str, limit: int) -> list[str]:
        if self._cache is None:
            return []
        raw = await self._cache.zrevrange(self._key, 0, _SCANNED - 1, withscores=True)
        allowed = min(analysis.fuzzy_distance(folded.split()[-1]), 1)
        found = []
        for member, score in raw:
            if score < MIN_QUERY_COUNT:
                break
            text = member.decode() if isinstance(member, bytes) else str(member)
            head = analysis.fold(text)[: len(folded)]
            if head == folded or (allowed and OSA.distance(head, folded) <= allowed):
                found.append(text)
                if len(found) >= limit:
                    break
        return found
