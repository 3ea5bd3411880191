"""The re-sync scheduler: every registered seller with a catalog URL is synced again once
per ``SCHEDULE_RESYNC_HOURS``, at its own fixed offset in the period (a hash of its id,
:func:`pipeline.sellers.next_slot`), so a million sellers do not all start at midnight.

Every worker runs a scheduler; a :class:`RedisLeaderLock` lets exactly one act. Each tick
the leader renews its lease, then *claims* the due sellers in one fenced script (their
due time moves ``claim_lease_s`` ahead, so a crash before their sync is queued only
delays them), queues each sync with the seller's tier priority, and *commits* their next
slot in a second fenced script. A paused leader that lost the lock is refused by both
scripts. The window left, between a fence check and the ledger's enqueue, cannot double
a sync: ``start_sync`` returns the running sync of a seller instead of queueing another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from pipeline.errors import PermanentError
from pipeline.ledger import RedisLedger
from pipeline.ledger.lua import LuaScript
from pipeline.schedule.lock import FencedError, RedisLeaderLock
from pipeline.sellers import RedisSellerDirectory, next_slot
from pipeline.settings import ScheduleSettings
from pipeline.syncs import UrlCheck, start_sync

logger = logging.getLogger(__name__)

_CLAIM = LuaScript("scheduler_claim", preludes=("_lock", "_fenced"))

_COMMIT = LuaScript("scheduler_commit", preludes=("_lock", "_fenced"))


def scheduler_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ResyncScheduler:
    """Queues due re-syncs while it holds the scheduler lock. Thread-safe for one caller."""

    def __init__(
        self,
        client: redis.Redis,
        ledger: RedisLedger,
        settings: ScheduleSettings,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
        check_url: UrlCheck | None = None,
    ) -> None:
        self._r = client
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._check_url = check_url
        self.period_s = settings.resync_hours * 3600.0
        self.directory = RedisSellerDirectory(
            client, ledger.keys, resync_period_s=self.period_s, clock=clock
        )
        keys = ledger.keys
        self.lock = RedisLeaderLock(
            client,
            keys.scheduler_lock,
            keys.scheduler_fence,
            holder or scheduler_holder(),
            settings.lock_ttl_s,
        )
        self.token: str | None = None

    @property
    def is_leader(self) -> bool:
        return self.token is not None

    def tick(self) -> list[str]:
        """One round: renew or take the lock, then queue every due seller's sync.

        Returns the sellers whose sync was queued (or found running). A follower returns
        []. Raises FencedError when the lock was lost mid-round (nothing more is written).
        """
        now = self._clock()
        token = self.lock.acquire(now)
        if token != self.token:
            logger.info("scheduler %s: %s", self.lock.holder, "leader" if token else "follower")
        self.token = token
        if token is None:
            return []
        queued: list[str] = []
        for seller_id in self.claim_due(token, now):
            next_due = next_slot(seller_id, self.period_s, now)
            if self._queue(seller_id):
                queued.append(seller_id)
            self.commit(token, [(seller_id, next_due)])
        return queued

    def claim_due(self, token: str, now: float) -> list[str]:
        """Take up to ``batch`` due sellers (fenced). Raises FencedError."""
        try:
            ids = _CLAIM(
                self._r,
                keys=[self.lock.key, self.directory.due_key],
                args=[
                    self.lock.holder,
                    token,
                    repr(now),
                    self._settings.batch,
                    self._settings.claim_lease_s,
                ],
            )
        except redis.ResponseError as exc:
            raise _fenced(exc, self) from exc
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def commit(self, token: str, due: list[tuple[str, float]]) -> int:
        """Store the sellers' next due times (fenced). Raises FencedError."""
        args: list[Any] = [self.lock.holder, token, repr(self._clock()), self.directory.key("")]
        for seller_id, when in due:
            args += [seller_id, repr(when)]
        try:
            return int(_COMMIT(self._r, keys=[self.lock.key, self.directory.due_key], args=args))
        except redis.ResponseError as exc:
            raise _fenced(exc, self) from exc

    def _queue(self, seller_id: str) -> bool:
        profile = self.directory.get(seller_id)
        if profile is None or profile.catalog_url is None:
            return False
        try:
            started = start_sync(
                self._ledger,
                self._r,
                seller_id,
                profile.catalog_url,
                priority=profile.tier.priority,
                source=profile.source,
                check_url=self._check_url,
            )
        except PermanentError as exc:
            # A URL that no longer passes: try again next period, the seller may fix it.
            logger.warning("scheduled sync of %s refused: %s", seller_id, exc)
            return False
        logger.info(
            "scheduled sync of %s: %s%s",
            seller_id,
            started.sync_id,
            " (already running)" if started.existing else "",
        )
        return True

    def release(self) -> None:
        if self.token is not None:
            with contextlib.suppress(redis.RedisError):
                self.lock.release(self.token)
            self.token = None

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``tick_s`` until ``stop`` is set; a Redis outage or a lost lock is
        logged and the next tick tries again. Gives the lock up on the way out."""
        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(self.tick)
                except FencedError:
                    logger.warning("scheduler %s lost the lock mid-round", self.lock.holder)
                    self.token = None
                except Exception:
                    logger.exception("scheduler tick failed; retrying")
                    self.token = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._settings.tick_s)
        finally:
            await asyncio.to_thread(self.release)


def _fenced(exc: redis.ResponseError, scheduler: ResyncScheduler) -> Exception:
    if "FENCED" in str(exc):
        scheduler.token = None
        return FencedError(f"scheduler lock lost by {scheduler.lock.holder}")
    return exc
