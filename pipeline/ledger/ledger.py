"""RedisLedger: at-least-once jobs with leases, fencing tokens, retries and dead letters.

Every transition is one Lua script (``scripts/*.lua``), so a job is in exactly one state
at every instant, crashes included. Claiming sweeps the claimed type first: due retries
move to their queue and expired leases go back to the front of theirs (the lost attempt
counts). :meth:`RedisLedger.maintain` does the same for every type plus trimming, for
types that nobody claims. Time comes from ``clock`` (tests pass their own); all
processes sharing a ledger should have synchronized clocks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import redis

from pipeline.errors import PermanentError, RetryableError
from pipeline.errortext import one_line
from pipeline.ledger.dlq import DLQ_SCRIPTS, RedisDeadLetters
from pipeline.ledger.enqueue import created_jobs, describe_error, prepare
from pipeline.ledger.events import LedgerEvent, RedisEventLog
from pipeline.ledger.keys import JOB_TYPES
from pipeline.ledger.lua import Arg, LuaScript, execute_scripts, load_scripts
from pipeline.ledger.models import (
    ChildrenSummary,
    ClaimedJob,
    Job,
    JobSpec,
    StaleTokenError,
    children_from,
    decode_hash,
    job_from_hash,
)
from pipeline.ledger.retry import retry_delay
from pipeline.ledger.stats import (
    CHECK_SCRIPT,
    ConsumerInfo,
    LedgerStats,
    collect_stats,
    consumers_from,
    run_check,
)
from pipeline.records import JobState, JobType, Priority
from pipeline.redis_keys import RedisKeys
from pipeline.settings import JobSettings

logger = logging.getLogger(__name__)

SCRIPTS = {
    name: LuaScript(name)
    for name in ("enqueue", "claim", "complete", "fail", "heartbeat", "progress", "maintain")
}
CHUNK = 1000  # jobs per script call: bounds how long one call holds the server
MAX_RESULT_BYTES = 1024 * 1024


class RedisLedger:
    """The job ledger on one Redis. Safe to share between threads (redis-py's pool)."""

    def __init__(
        self,
        client: redis.Redis,
        jobs: JobSettings,
        *,
        keys: RedisKeys,
        clock: Callable[[], float] = time.time,
        events_maxlen: int = 100_000,
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._clock = clock
        self.keys = keys
        self._events_maxlen = str(events_maxlen)
        self._events = RedisEventLog(client, self.keys)
        self.dlq = RedisDeadLetters(client, self.keys, self._argv, self._fetch_jobs)
        load_scripts(client, [*SCRIPTS.values(), *DLQ_SCRIPTS, CHECK_SCRIPT])

    def _argv(self, *args: Arg, now: float | None = None) -> list[Arg]:
        when = self._clock() if now is None else now
        return [self.keys.lua_layout, repr(when), self._events_maxlen, *args]

    # ----------------------------------------------------------------- enqueue
    def enqueue(self, spec: JobSpec) -> Job:
        """Create one job (see :meth:`enqueue_many`)."""
        return self.enqueue_many([spec])[0]

    def enqueue_many(self, specs: Sequence[JobSpec], *, parent_id: str | None = None) -> list[Job]:
        """Create jobs in one round trip (scripts of ``CHUNK`` jobs, pipelined).

        A spec whose idempotency key is held by a live job (not dead, not trimmed) yields
        that job instead. Children (``parent_id`` here or per spec) can only be added to an
        active parent. Raises PermanentError, before anything is written, for an invalid
        spec (naming its index and reason) or a parent that is not active.
        """
        now = self._clock()
        prepared: list[tuple[list[Arg], Job]] = []
        for i, spec in enumerate(specs):
            try:
                prepared.append(prepare(spec, parent_id, now, self._jobs.max_attempts))
            except PermanentError as exc:
                raise PermanentError(f"job spec #{i}: {exc}") from exc
            except ValueError as exc:
                raise PermanentError(f"job spec #{i}: {exc}") from exc
        calls = []
        for start in range(0, len(prepared), CHUNK):
            chunk = prepared[start : start + CHUNK]
            flat: list[Arg] = [len(chunk)]
            for args, _ in chunk:
                flat.extend(args)
            calls.append((SCRIPTS["enqueue"], (), self._argv(*flat, now=now)))
        replies = execute_scripts(self._client, calls)
        out, existing = created_jobs(prepared, replies, CHUNK)
        if existing:
            found = self._fetch_jobs(list(existing.values()))
            for index, job_id in existing.items():
                held = found.get(job_id)
                if held is not None:
                    out[index] = held
        logger.info("enqueued %d job(s), %d already live", len(out) - len(existing), len(existing))
        return out

    def add_children(self, parent_id: str, specs: Sequence[JobSpec]) -> list[Job]:
        """Enqueue children of an active job. The parent completes once its own work is
        completed and every child has ended. Raises PermanentError as enqueue_many does."""
        return self.enqueue_many(specs, parent_id=parent_id)

    # ------------------------------------------------------------------- claim
    def claim(
        self,
        job_type: JobType,
        consumer: str,
        count: int,
        block_ms: int = 0,
        *,
        lease_s: float | None = None,
    ) -> list[ClaimedJob]:
        """Claim up to ``count`` jobs of a type, high priority first, each leased for
        ``lease_s`` (default ``JOB_TIMEOUT``). Due retries and expired leases of the type are
        swept first. With ``block_ms`` > 0, waits that long for jobs to appear."""
        if not 1 <= count <= 10_000:
            raise ValueError(f"count must be 1-10000, got {count}")
        lease = self._jobs.timeout if lease_s is None else lease_s
        deadline = time.monotonic() + block_ms / 1000
        while True:
            jobs = self._claim_once(JobType(job_type), consumer, count, lease)
            remaining = deadline - time.monotonic()
            if jobs or remaining <= 0:
                return jobs
            # Woken by enqueue/replay; capped so due retries and expired leases are seen.
            self._client.blpop([self.keys.signal(job_type)], timeout=min(remaining, 0.25))

    def _claim_once(
        self, job_type: JobType, consumer: str, count: int, lease: float
    ) -> list[ClaimedJob]:
        now = self._clock()
        argv = [
            self.keys.lua_layout,
            repr(now),
            self._events_maxlen,
            job_type.value,
            consumer,
            count,
        ]
        reply = SCRIPTS["claim"](self._client, (), [*argv, repr(lease)])
        jobs = []
        for i in range(0, len(reply), 8):
            job_id, attempt, token, payload, seller, parent, max_attempts, prio = reply[i : i + 8]
            jobs.append(
                ClaimedJob(
                    job_id=job_id.decode(),
                    type=job_type,
                    payload=json.loads(payload),
                    seller_id=seller.decode(),
                    parent_id=parent.decode() or None,
                    attempt=int(attempt),
                    token=token.decode(),
                    max_attempts=int(max_attempts),
                    consumer=consumer,
                    claimed_at=now,
                    priority=Priority(int(prio)),
                )
            )
        if jobs:
            logger.debug("%s claimed %d %s job(s)", consumer, len(jobs), job_type)
        return jobs

    # ---------------------------------------------------------------- outcomes
    def complete(self, claimed: ClaimedJob, result: Mapping[str, Any] | None = None) -> bool:
        """Complete one attempt; False (logged) when its token is stale. A job with pending
        children stays active, without a lease, until they end."""
        return self.complete_many([(claimed, result)])[0]

    def complete_many(
        self, items: Sequence[tuple[ClaimedJob, Mapping[str, Any] | None]]
    ) -> list[bool]:
        """Complete many attempts in one script call each ``CHUNK`` (one round trip).

        Returns one flag per item: False where the token was stale (logged, nothing
        written). Raises ValueError for a result over ``MAX_RESULT_BYTES``.
        """
        calls = []
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            flat: list[Arg] = [
                chunk[0][0].consumer if chunk else "",
                self._jobs.completed_keep_seconds,
                self._jobs.completed_keep_count,
                len(chunk),
            ]
            for claimed, result in chunk:
                text = json.dumps(result) if result is not None else ""
                if len(text) > MAX_RESULT_BYTES:
                    raise ValueError(f"result of job {claimed.job_id} exceeds {MAX_RESULT_BYTES}")
                flat.extend((claimed.job_id, claimed.token, text))
            calls.append((SCRIPTS["complete"], (), self._argv(*flat)))
        flags = [bool(f) for reply in execute_scripts(self._client, calls) for f in reply]
        now = self._clock()
        for (claimed, _), ok in zip(items, flags, strict=True):
            if ok:
                logger.debug(
                    "job %s %s completed attempt %d in %.3f s",
                    claimed.job_id, claimed.type, claimed.attempt, now - claimed.claimed_at,
                )  # fmt: skip
            else:
                logger.warning(
                    "stale completion refused: job %s attempt %d token %s (%s)",
                    claimed.job_id, claimed.attempt, claimed.token, claimed.consumer,
                )  # fmt: skip
        return flags

    def backoff(self, attempt: int) -> float:
        """Delay before the attempt after ``attempt``: base x 2^(attempt-1), +/- jitter."""
        return retry_delay(attempt, self._jobs.backoff_base, jitter=self._jobs.backoff_jitter)

    def fail(self, claimed: ClaimedJob, error: BaseException) -> JobState:
        """Record a failed attempt: PermanentError, or the last attempt, makes the job dead
        (dead-letter queue); anything else retries after ``error.delay`` or the backoff.

        Returns the new state. Raises StaleTokenError (after logging it) when the token is
        no longer the job's current one; nothing is written then.
        """
        permanent = isinstance(error, PermanentError)
        if isinstance(error, RetryableError) and error.delay is not None:
            delay = error.delay
        else:
            delay = self.backoff(claimed.attempt)
        args = self._argv(
            claimed.job_id, claimed.token, claimed.consumer, "1" if permanent else "0",
            repr(delay), describe_error(error),
        )  # fmt: skip
        state = SCRIPTS["fail"](self._client, (), args).decode()
        if not state:
            logger.warning(
                "stale failure refused: job %s attempt %d token %s",
                claimed.job_id, claimed.attempt, claimed.token,
            )  # fmt: skip
            raise StaleTokenError(
                f"job {claimed.job_id}: token {claimed.token} of attempt {claimed.attempt} "
                "is stale (the lease expired or the job ended)"
            )
        logger.info(
            "job %s %s attempt %d/%d failed (%s) -> %s",
            claimed.job_id, claimed.type, claimed.attempt, claimed.max_attempts,
            one_line(error), state,
        )  # fmt: skip
        return JobState(state)

    def heartbeat(self, claimed: ClaimedJob, *, lease_s: float | None = None) -> bool:
        """Extend the lease by ``lease_s`` (default ``JOB_TIMEOUT``) from now; False if stale."""
        return self.heartbeat_many([claimed], lease_s=lease_s)[0]

    def heartbeat_many(
        self, claimed: Sequence[ClaimedJob], *, lease_s: float | None = None
    ) -> list[bool]:
        """Extend many leases in one call; one flag per job, False where stale."""
        if not claimed:
            return []
        lease = self._jobs.timeout if lease_s is None else lease_s
        flat: list[Arg] = [claimed[0].consumer, repr(lease), len(claimed)]
        for c in claimed:
            flat.extend((c.job_id, c.token))
        flags = [bool(f) for f in SCRIPTS["heartbeat"](self._client, (), self._argv(*flat))]
        for c, ok in zip(claimed, flags, strict=True):
            if not ok:
                logger.warning("stale heartbeat refused: job %s token %s", c.job_id, c.token)
        return flags

    def progress(self, claimed: ClaimedJob, percent: float, message: str = "") -> bool:
        """Record progress (0-100, message up to 500 characters); False if the token is stale.
        Raises ValueError for a percentage outside 0-100."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be 0-100, got {percent}")
        args = self._argv(claimed.job_id, claimed.token, repr(float(percent)), message[:500])
        return bool(SCRIPTS["progress"](self._client, (), args))

    # ------------------------------------------------------------------- reads
    def _fetch_jobs(self, job_ids: Iterable[str]) -> dict[str, Job]:
        ids = list(job_ids)
        pipe = self._client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.keys.job(job_id))
            pipe.lrange(self.keys.attempts(job_id), 0, -1)
            pipe.hgetall(self.keys.children(job_id))
        replies = pipe.execute()
        found = {}
        for i, job_id in enumerate(ids):
            raw, attempts, per_type = replies[3 * i : 3 * i + 3]
            if raw:
                found[job_id] = job_from_hash(
                    decode_hash(raw), [a.decode() for a in attempts], decode_hash(per_type)
                )
        return found

    def get(self, job_id: str) -> Job | None:
        """The job with every field, or None when unknown (or trimmed, or purged)."""
        return self._fetch_jobs([job_id]).get(job_id)

    def children_summary(self, parent_id: str) -> ChildrenSummary | None:
        """Counts of the parent's children (total, completed, dead, per type); None if none."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hmget(self.keys.job(parent_id), ["ch_total", "ch_completed", "ch_dead"])
        pipe.hgetall(self.keys.children(parent_id))
        (total, completed, dead), per_type = pipe.execute()
        fields = {"ch_total": total, "ch_completed": completed, "ch_dead": dead}
        return children_from(decode_hash({k: v or b"" for k, v in fields.items()}),
                             decode_hash(per_type))  # fmt: skip

    # ------------------------------------------------------------- operations
    def maintain(self, types: Sequence[JobType] = JOB_TYPES) -> tuple[int, int]:
        """Promote due retries, expire leases and trim completed jobs of every type; call
        from a loop (the dispatcher) so types nobody claims are kept too. Returns
        (jobs moved, jobs trimmed)."""
        args = self._argv(
            self._jobs.completed_keep_seconds, self._jobs.completed_keep_count,
            *[JobType(t).value for t in types],
        )  # fmt: skip
        moved, trimmed = SCRIPTS["maintain"](self._client, (), args)
        return int(moved), int(trimmed)

    def stats(self, *, window_minutes: int = 60) -> LedgerStats:
        """Per-type counts, rates, durations, oldest waiting age, and consumers."""
        return collect_stats(self._client, self.keys, self._argv, self._clock(), window_minutes)

    def consumers(self) -> list[ConsumerInfo]:
        """Workers seen (their last claim, heartbeat or report), freshest first: one HGETALL."""
        raw = cast(dict[bytes, bytes], self._client.hgetall(self.keys.consumers))
        return consumers_from(raw, self._clock())

    def check_invariants(self, *, deep: bool = True) -> list[str]:
        """Problems found (empty when sound): state counts must add up to jobs created minus
        trimmed and purged; with ``deep``, every indexed job's state must match its single
        index. Read atomically (one script; deep is O(jobs), meant for tests and ops)."""
        return run_check(self._client, self._argv, deep)[1]

    @property
    def events_key(self) -> str:
        """The Redis stream of transitions (for XREAD by the API)."""
        return self.keys.events

    def events(self, after_id: str = "0", count: int = 100, block_ms: int = 0) -> list[LedgerEvent]:
        """Transitions after ``after_id`` (``"$"`` for only new ones), oldest first."""
        return self._events.read(after_id, count, block_ms)

    # --------------------------------------------------------- dead letters
    def dlq_list(
        self,
        type: JobType | None = None,
        seller_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Dead jobs, newest first, filtered by type and/or seller."""
        return self.dlq.list_jobs(type, seller_id, limit, offset)

    def dlq_get(self, job_id: str) -> Job | None:
        """A dead job with its attempts, or None when the job is not dead."""
        return self.dlq.get(job_id)

    def replay(self, job_id: str) -> bool:
        """Send a dead job back to its queue with fresh attempts; False if it is not dead."""
        return self.dlq.replay([job_id]) == 1

    def replay_many(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        type: JobType | None = None,
        seller_id: str | None = None,
    ) -> int:
        """Replay dead jobs: the given ids (those not dead are skipped), else all matching
        the filters (every dead job when none). Returns how many went back to a queue."""
        ids = list(job_ids) if job_ids is not None else self.dlq.matching_ids(type, seller_id)
        return self.dlq.replay(ids)

    def dlq_count(self, type: JobType | None = None, seller_id: str | None = None) -> int:
        """How many dead jobs match the filters (all dead jobs when none)."""
        return self.dlq.count(type, seller_id)

    def purge(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        type: JobType | None = None,
        seller_id: str | None = None,
    ) -> int:
        """Delete dead jobs for good: the given ids, else all matching the filters (every
        dead job when none). Returns how many were deleted."""
        ids = list(job_ids) if job_ids is not None else self.dlq.matching_ids(type, seller_id)
        return self.dlq.purge(ids)
