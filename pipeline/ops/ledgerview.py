"""Read-only views of the ledger that operations need and ``LedgerStats`` does not carry:
attempts finished in a window (for a failure ratio with a minimum volume) and the syncs in
flight (for per-seller progress). Bounded reads only: a scrape or a dashboard refresh must
cost the same with ten sellers or a million.
"""

from __future__ import annotations

from typing import Any, cast

import redis

from pipeline.ledger import RedisLedger
from pipeline.ledger.keys import JOB_TYPES, PRIORITIES
from pipeline.ledger.models import decode_hash
from pipeline.records import JobType
from pipeline.sync_outcome import failed_counts, outcome_state

SYNC_FIELDS = ("seller", "state", "created", "finished", "ch_total", "ch_completed", "ch_dead")


def sync_summaries(ledger: RedisLedger, client: redis.Redis, job_ids: list[str]) -> list[Any]:
    """Seller, state, timings and child counts of each sync (unknown ids skipped), in one
    pipelined round trip of HMGETs: a page of syncs costs the same as one."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(ledger.keys.job(job_id), list(SYNC_FIELDS))
        pipe.hgetall(ledger.keys.children(job_id))
    replies = pipe.execute()
    rows = []
    for job_id, values, per_type in zip(job_ids, replies[::2], replies[1::2], strict=True):
        if values[0] is None:
            continue
        seller, state, created, finished, total, done, dead = (
            v.decode() if v is not None else "" for v in values
        )
        n_total, n_done, n_dead = int(total or 0), int(done or 0), int(dead or 0)
        stages = _per_type(decode_hash(per_type))
        rows.append(
            {
                "sync_id": job_id,
                "seller_id": seller,
                "state": outcome_state(state, stages),
                "failed_jobs": failed_counts(stages),
                "progress": round(sync_percent(state, n_total, n_done + n_dead), 1),
                "total": n_total,
                "completed": n_done,
                "failed": n_dead,
                "created_at": float(created) if created else None,
                "finished_at": float(finished) if finished else None,
            }
        )
    return rows


def _per_type(children: dict[str, str]) -> dict[str, dict[str, int]]:
    """``{"<type>:<outcome>": n}`` (a parent's children hash) as ``{type: {outcome: n}}``."""
    out: dict[str, dict[str, int]] = {}
    for name, count in children.items():
        jtype, _, outcome = name.rpartition(":")
        out.setdefault(jtype, {})[outcome] = int(count)
    return out


def finished_in_window(
    ledger: RedisLedger, client: redis.Redis, now: float, window_minutes: int
) -> dict[str, int]:
    """Completed + failed attempts per type over the last ``window_minutes`` minutes."""
    minute = int(now // 60)
    minutes = range(minute - window_minutes + 1, minute + 1)
    pipe = client.pipeline(transaction=False)
    for jtype in JOB_TYPES:
        for m in minutes:
            pipe.hmget(ledger.keys.minute(jtype.value, m), ["completed", "failed"])
    replies = iter(pipe.execute())
    out: dict[str, int] = {}
    for jtype in JOB_TYPES:
        total = 0
        for _ in minutes:
            done, failed = next(replies)
            total += int(done or 0) + int(failed or 0)
        out[jtype.value] = total
    return out


def dead_in_window(
    ledger: RedisLedger, client: redis.Redis, now: float, window_minutes: int, job_type: JobType
) -> int:
    """Jobs of ``job_type`` that went dead in the last ``window_minutes`` minutes."""
    minute = int(now // 60)
    pipe = client.pipeline(transaction=False)
    for m in range(minute - window_minutes + 1, minute + 1):
        pipe.hget(ledger.keys.minute(job_type.value, m), "dead")
    return sum(int(v or 0) for v in pipe.execute())


def live_sync_ids(ledger: RedisLedger, client: redis.Redis, limit: int) -> list[str]:
    """Ids of active then waiting ``sync-seller`` jobs, at most ``limit``."""
    sync = JobType.SYNC_SELLER.value
    ids: list[str] = []
    active = cast(list[bytes], client.zrevrange(ledger.keys.active(sync), 0, limit - 1))
    ids.extend(raw.decode() for raw in active)
    # A sync whose own work is done waits for its children without a lease (not in active).
    awaiting = cast(set[bytes], client.smembers(ledger.keys.awaiting(sync)))
    ids.extend(sorted(raw.decode() for raw in awaiting if raw.decode() not in ids))
    for prio in PRIORITIES:
        if len(ids) >= limit:
            break
        queued = cast(list[bytes], client.lrange(ledger.keys.queue(sync, prio), 0, limit))
        ids.extend(raw.decode() for raw in queued)
    return ids[:limit]


def recent_sync_ids(
    ledger: RedisLedger, client: redis.Redis, since: float, limit: int
) -> list[str]:
    """Ids of syncs that completed or died after ``since``, newest first."""
    sync = JobType.SYNC_SELLER.value
    done = cast(
        list[bytes],
        client.zrevrangebyscore(ledger.keys.done(sync), "+inf", since, start=0, num=limit),
    )
    dead = cast(
        list[bytes],
        client.zrevrangebyscore(ledger.keys.dead(sync), "+inf", since, start=0, num=limit),
    )
    return [raw.decode() for raw in [*done, *dead]][:limit]


def sync_percent(state: str, children: int, ended: int) -> float:
    """A sync's progress: its children's, 100 once ended, 0 before any child exists."""
    if state in ("completed", "dead"):
        return 100.0
    return 100.0 * ended / children if children else 0.0


def sync_rows(ledger: RedisLedger, client: redis.Redis, now: float, limit: int = 30) -> list[Any]:
    """Per-seller progress for the dashboard: syncs in flight, then those ended in 10 min."""
    ids = live_sync_ids(ledger, client, limit)
    if len(ids) < limit:
        ids += [i for i in recent_sync_ids(ledger, client, now - 600, limit) if i not in ids]
    return sync_summaries(ledger, client, ids[:limit])
