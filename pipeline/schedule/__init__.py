"""Scheduled re-syncs: every registered seller re-synced once a period, one scheduler
active among the workers (a Redis lease lock with fencing tokens)."""

from pipeline.schedule.lock import FencedError, RedisLeaderLock
from pipeline.schedule.scheduler import ResyncScheduler

__all__ = ["FencedError", "RedisLeaderLock", "ResyncScheduler"]
