"""Dead letters: listed newest first by type and/or seller, replayed, purged.

Dead jobs never expire. They keep their payload and one record per failed attempt
(consumer, start, end, error type, message, traceback). Three sorted sets index them
(all, per type, per seller), scored by the time they died.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import redis

from pipeline.ledger.lua import Arg, LuaScript, execute_scripts
from pipeline.ledger.models import Job
from pipeline.records import JobState, JobType
from pipeline.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

_REPLAY = LuaScript("replay")
_PURGE = LuaScript("purge")
_PAGE = 1000
DLQ_SCRIPTS = (_REPLAY, _PURGE)


class RedisDeadLetters:
    """The dead-letter side of :class:`~pipeline.ledger.ledger.RedisLedger`."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        argv: Callable[..., list[Arg]],
        fetch: Callable[[Iterable[str]], dict[str, Job]],
    ) -> None:
        self._client = client
        self._keys = keys
        self._argv = argv
        self._fetch = fetch

    def _index(self, job_type: JobType | None, seller_id: str | None) -> str:
        if seller_id:
            return self._keys.dead_seller(seller_id)
        return self._keys.dead(JobType(job_type).value if job_type else None)

    def _pages(self, job_type: JobType | None, seller_id: str | None) -> Iterable[list[str]]:
        """Ids of matching dead jobs, newest first, a page at a time."""
        index = self._index(job_type, seller_id)
        start = 0
        while True:
            page = cast(list[bytes], self._client.zrevrange(index, start, start + _PAGE - 1))
            ids = [i.decode() for i in page]
            if not ids:
                return
            start += len(ids)
            if seller_id and job_type:
                # The seller index holds every type: keep the requested one.
                pipe = self._client.pipeline(transaction=False)
                for job_id in ids:
                    pipe.hget(self._keys.job(job_id), "type")
                types = pipe.execute()
                wanted = JobType(job_type).value.encode()
                ids = [i for i, t in zip(ids, types, strict=True) if t == wanted]
            yield ids

    def matching_ids(self, job_type: JobType | None, seller_id: str | None) -> list[str]:
        return [job_id for page in self._pages(job_type, seller_id) for job_id in page]

    def count(self, job_type: JobType | None, seller_id: str | None) -> int:
        """How many dead jobs match: one ZCARD, except for a type and a seller together
        (the seller's index holds every type, so its jobs' types are read)."""
        if seller_id and job_type:
            return len(self.matching_ids(job_type, seller_id))
        return int(cast(int, self._client.zcard(self._index(job_type, seller_id))))

    def list_jobs(
        self, job_type: JobType | None, seller_id: str | None, limit: int, offset: int
    ) -> list[Job]:
        """Dead jobs, newest first. Raises ValueError for limit outside 1-1000 or offset < 0."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError(f"limit must be 1-1000 and offset >= 0, got {limit}, {offset}")
        chosen: list[str] = []
        skipped = 0
        for page in self._pages(job_type, seller_id):
            for job_id in page:
                if skipped < offset:
                    skipped += 1
                elif len(chosen) < limit:
                    chosen.append(job_id)
            if len(chosen) >= limit:
                break
        found = self._fetch(chosen)
        return [found[i] for i in chosen if i in found]

    def get(self, job_id: str) -> Job | None:
        job = self._fetch([job_id]).get(job_id)
        return job if job is not None and job.state == JobState.DEAD else None

    def _run(self, script: LuaScript, ids: Sequence[str]) -> list[Any]:
        calls = [
            (script, (), self._argv(len(chunk), *chunk))
            for chunk in (ids[i : i + _PAGE] for i in range(0, len(ids), _PAGE))
        ]
        return execute_scripts(self._client, calls) if calls else []

    def replay(self, job_ids: Sequence[str]) -> int:
        """Move dead jobs back to waiting with attempt 0; ids not dead are skipped."""
        replies = self._run(_REPLAY, list(job_ids))
        count = sum(len(r) for r in replies if isinstance(r, list))
        logger.info("replayed %d dead job(s) of %d asked", count, len(job_ids))
        return count

    def purge(self, job_ids: Sequence[str]) -> int:
        """Delete dead jobs and their records; ids not dead are skipped."""
        replies = self._run(_PURGE, list(job_ids))
        count = sum(int(r) for r in replies if isinstance(r, int))
        logger.info("purged %d dead job(s) of %d asked", count, len(job_ids))
        return count
