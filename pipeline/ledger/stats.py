"""Ledger statistics and the invariant check.

Counts per state come from one script (an atomic snapshot, also used by the invariant
check). Rates come from per-minute counters, durations from the latest 1,000 completed
jobs of each type, and consumers from their last claim/heartbeat/report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from pipeline.ledger.keys import JOB_TYPES, PRIORITIES
from pipeline.ledger.lua import Arg, LuaScript
from pipeline.redis_keys import RedisKeys

CHECK_SCRIPT = LuaScript("check")
STATES = ("waiting", "delayed", "active", "completed", "dead")


@dataclass(frozen=True, slots=True)
class TypeStats:
    waiting: int
    delayed: int
    active: int
    completed: int
    dead: int
    created: int
    completed_per_min: float
    failed_per_min: float
    failure_rate: float | None
    mean_duration_s: float | None
    p95_duration_s: float | None
    oldest_waiting_age_s: float | None


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    name: str
    type: str
    last_seen: float
    age_s: float


@dataclass(frozen=True, slots=True)
class LedgerStats:
    at: float
    window_minutes: int
    types: dict[str, TypeStats]
    consumers: list[ConsumerInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_check(
    client: redis.Redis, argv: Callable[..., list[Arg]], deep: bool
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """(counts per type and state, problems) read in one atomic script."""
    reply = json.loads(
        CHECK_SCRIPT(client, (), argv("1" if deep else "0", *[t.value for t in JOB_TYPES]))
    )
    counts = reply["counts"] or {}
    problems = reply["problems"] or []
    return counts, list(problems)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _rate(current: int, previous: int, now: float) -> float:
    """Events in the trailing 60 s, estimated from this minute's and the last one's counts."""
    elapsed = (now % 60) / 60
    return current + previous * (1 - elapsed)


def collect_stats(
    client: redis.Redis,
    keys: RedisKeys,
    argv: Callable[..., list[Arg]],
    now: float,
    window_minutes: int,
) -> LedgerStats:
    """Everything ``catalog-sync stats`` shows. Raises ValueError for a window outside 1-120."""
    if not 1 <= window_minutes <= 120:
        raise ValueError(f"window_minutes must be 1-120, got {window_minutes}")
    counts, _ = run_check(client, argv, deep=False)
    minute = int(now // 60)
    pipe = client.pipeline(transaction=False)
    for jtype in JOB_TYPES:
        for m in range(minute - window_minutes + 1, minute + 1):
            pipe.hmget(keys.minute(jtype, m), ["completed", "failed"])
        pipe.lrange(keys.durations(jtype), 0, -1)
        for prio in PRIORITIES:
            pipe.lindex(keys.queue(jtype, prio), 0)
    pipe.hgetall(keys.consumers)
    replies = pipe.execute()
    heads: list[tuple[str, bytes]] = []
    types: dict[str, dict[str, Any]] = {}
    pos = 0
    for jtype in JOB_TYPES:
        per_minute = [(int(c or 0), int(f or 0)) for c, f in replies[pos : pos + window_minutes]]
        pos += window_minutes
        durations = [float(d) for d in replies[pos]]
        pos += 1
        heads.extend((jtype.value, h) for h in replies[pos : pos + len(PRIORITIES)] if h)
        pos += len(PRIORITIES)
        done = sum(c for c, _ in per_minute)
        failed = sum(f for _, f in per_minute)
        prev = per_minute[-2] if window_minutes > 1 else (0, 0)
        c = counts.get(jtype.value, {})
        types[jtype.value] = {
            **{state: int(c.get(state, 0)) for state in STATES},
            "created": int(c.get("created", 0)),
            "completed_per_min": _rate(per_minute[-1][0], prev[0], now),
            "failed_per_min": _rate(per_minute[-1][1], prev[1], now),
            "failure_rate": failed / (done + failed) if done + failed else None,
            "mean_duration_s": sum(durations) / len(durations) if durations else None,
            "p95_duration_s": _percentile(durations, 0.95) if durations else None,
            "oldest_waiting_age_s": None,
        }
    consumers_raw = replies[pos]
    # The head of each queue is its oldest waiting job.
    pipe = client.pipeline(transaction=False)
    for _, job_id in heads:
        pipe.hget(keys.job(job_id.decode()), "created")
    for (jtype_name, _), created in zip(heads, pipe.execute(), strict=True):
        if created:
            age = max(0.0, now - float(created))
            old = types[jtype_name]["oldest_waiting_age_s"]
            types[jtype_name]["oldest_waiting_age_s"] = age if old is None else max(old, age)
    return LedgerStats(
        at=now,
        window_minutes=window_minutes,
        types={name: TypeStats(**values) for name, values in types.items()},
        consumers=consumers_from(consumers_raw, now),
    )


def consumers_from(raw: dict[bytes, bytes], now: float) -> list[ConsumerInfo]:
    """The consumers hash (name -> ``"<last seen>|<type>"``) as ConsumerInfo, freshest
    first: every claim, heartbeat and report of a worker rewrites its entry."""
    consumers = []
    for name, value in raw.items():
        seen, _, jtype_name = value.decode().partition("|")
        consumers.append(
            ConsumerInfo(name.decode(), jtype_name, float(seen), max(0.0, now - float(seen)))
        )
    consumers.sort(key=lambda c: c.age_s)
    return consumers
