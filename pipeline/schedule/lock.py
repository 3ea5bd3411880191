"""A leader lock in Redis with a lease and fencing tokens.

The lock's value is ``<holder>|<token>|<deadline>``. Acquiring a free or expired lock
takes a new token from a counter (``INCR``), so every leadership term has a larger token
than the one before; renewing keeps the token. Work done under the lock is *fenced*:
each Redis write the scheduler makes runs in a script that first checks that the lock
still holds this holder's token and has not expired (the prelude ``scripts/_fenced.lua``
of the shared Lua loader), so a leader that was paused past its lease (GC, a stopped VM)
and lost the lock cannot change anything when it wakes up.

Deadlines come from the caller's clock (tests pass their own): the processes sharing a
lock need synchronized clocks, as the ledger's leases do. The key also gets a Redis
expiry of ten leases, only so that an abandoned lock does not stay forever.
"""

from __future__ import annotations

import logging

import redis

from pipeline.errors import CatalogSyncError
from pipeline.ledger.lua import LuaScript

logger = logging.getLogger(__name__)


class FencedError(CatalogSyncError):
    """The lock is no longer held with this token: another holder took over."""


_ACQUIRE = LuaScript("lock_acquire", preludes=("_lock",))

_RELEASE = LuaScript("lock_release", preludes=("_lock",))


class RedisLeaderLock:
    """One holder at a time per key; ``holder`` names this process (unique per process).
    ``counter_key`` holds the last fencing token given out (it outlives the lock)."""

    def __init__(
        self, client: redis.Redis, key: str, counter_key: str, holder: str, ttl_s: float
    ) -> None:
        if "|" in holder or not holder:
            raise ValueError(f"holder must be non-empty without '|', got {holder!r}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._r = client
        self.key = key
        self.counter_key = counter_key
        self.holder = holder
        self.ttl_s = ttl_s

    def acquire(self, now: float) -> str | None:
        """Take or renew the lock until ``now + ttl``; the fencing token, or None when
        another holder's lease is still running."""
        token = _ACQUIRE(
            self._r, keys=[self.key, self.counter_key], args=[self.holder, now, self.ttl_s]
        )
        if token is None:
            return None
        return token.decode() if isinstance(token, bytes) else str(token)

    def release(self, token: str) -> bool:
        """Give the lock up (only if still ours), so another process takes over at once."""
        return bool(_RELEASE(self._r, keys=[self.key], args=[self.holder, token]))

    def holder_now(self) -> tuple[str, str, float] | None:
        """(holder, token, deadline) of the current value, for operators and tests."""
        raw = self._r.get(self.key)
        if raw is None:
            return None
        holder, token, deadline = (raw.decode() if isinstance(raw, bytes) else str(raw)).rsplit(
            "|", 2
        )
        return holder, token, float(deadline)
