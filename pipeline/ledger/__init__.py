"""The Redis job ledger: jobs with leases, fencing tokens, retries, dead letters, stats.

Import from here: ``RedisLedger``, ``JobSpec``, ``Job``, ``ClaimedJob``, ``RedisRateLimiter``.
"""

from pipeline.ledger.events import LedgerEvent
from pipeline.ledger.ledger import RedisLedger
from pipeline.ledger.models import ChildrenSummary, ClaimedJob, Job, JobSpec, StaleTokenError
from pipeline.ledger.ratelimit import RedisRateLimiter
from pipeline.ledger.stats import LedgerStats

__all__ = [
    "ChildrenSummary",
    "ClaimedJob",
    "Job",
    "JobSpec",
    "LedgerEvent",
    "LedgerStats",
    "RedisLedger",
    "RedisRateLimiter",
    "StaleTokenError",
]
