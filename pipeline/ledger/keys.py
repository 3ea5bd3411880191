"""Every Redis key of the ledger, in one place; the Lua prelude builds the same names.

Keys (``ns`` is the namespace, ``cs`` by default)::

    ns:job:<id>                 hash: state, payload, attempt, token, timings, result, error
    ns:job:<id>:attempts        list: one JSON record per failed attempt (kept with the job)
    ns:job:<id>:children        hash: <type>:total|completed|dead for a parent's children
    ns:q:<type>:<priority>      list: waiting jobs, FIFO, priority 0 (high) .. 2 (low)
    ns:delayed:<type>           zset: retries, score = due time
    ns:active:<type>            zset: claimed jobs, score = lease deadline
    ns:awaiting:<type>          set: active jobs whose own work is done, waiting for children
    ns:done:<type>              zset: completed jobs, score = finish time (trimmed)
    ns:dead:<type>, ns:dead     zset: dead letters by type / all, score = finish time
    ns:dead-seller:<seller>     zset: dead letters of one seller
    ns:count:<type>             hash: created, trimmed, purged (for the invariant)
    ns:m:<type>:<minute>        hash: completed, failed, dead in that minute (expires)
    ns:dur:<type>               list: the latest durations (s) of completed jobs
    ns:idem:<key>               string: the job id holding an idempotency key
    ns:consumers                hash: consumer -> "<last seen>|<type>"
    ns:signal:<type>            list: wake-up tokens for blocked claimers
    ns:events                   stream: every transition, capped
    ns:fence                    counter: fencing tokens
"""

from __future__ import annotations

from pipeline.records import JobType, Priority

JOB_TYPES: tuple[JobType, ...] = tuple(JobType)
PRIORITIES: tuple[Priority, ...] = tuple(sorted(Priority))


class LedgerKeys:
    """Key names under one namespace."""

    def __init__(self, namespace: str = "cs") -> None:
        if not namespace or ":" in namespace or len(namespace) > 64:
            raise ValueError(f"namespace must be 1-64 characters without ':', got {namespace!r}")
        self.ns = namespace

    def job(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}"

    def attempts(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}:attempts"

    def children(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}:children"

    def queue(self, job_type: str, priority: int) -> str:
        return f"{self.ns}:q:{job_type}:{priority}"

    def delayed(self, job_type: str) -> str:
        return f"{self.ns}:delayed:{job_type}"

    def active(self, job_type: str) -> str:
        return f"{self.ns}:active:{job_type}"

    def awaiting(self, job_type: str) -> str:
        return f"{self.ns}:awaiting:{job_type}"

    def done(self, job_type: str) -> str:
        return f"{self.ns}:done:{job_type}"

    def dead(self, job_type: str | None = None) -> str:
        return f"{self.ns}:dead:{job_type}" if job_type else f"{self.ns}:dead"

    def dead_seller(self, seller_id: str) -> str:
        return f"{self.ns}:dead-seller:{seller_id}"

    def counters(self, job_type: str) -> str:
        return f"{self.ns}:count:{job_type}"

    def minute(self, job_type: str, minute: int) -> str:
        return f"{self.ns}:m:{job_type}:{minute}"

    def durations(self, job_type: str) -> str:
        return f"{self.ns}:dur:{job_type}"

    def idempotency(self, key: str) -> str:
        return f"{self.ns}:idem:{key}"

    def signal(self, job_type: str) -> str:
        return f"{self.ns}:signal:{job_type}"

    @property
    def consumers(self) -> str:
        return f"{self.ns}:consumers"

    @property
    def events(self) -> str:
        return f"{self.ns}:events"
