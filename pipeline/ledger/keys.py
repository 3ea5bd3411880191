"""The ledger's job types and priorities, in the order scripts and views walk them.

Key names live in :mod:`pipeline.redis_keys` (``RedisKeys``), with every other key.
"""

from __future__ import annotations

from pipeline.records import JobType, Priority

JOB_TYPES: tuple[JobType, ...] = tuple(JobType)
PRIORITIES: tuple[Priority, ...] = tuple(sorted(Priority))
