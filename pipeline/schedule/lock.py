"""A leader lock in Redis with a lease and fencing tokens.

The lock's value is ``<holder>|<token>|<deadline>``. Acquiring a free or expired lock
takes a new token from a counter (``INCR``), so every leadership term has a larger token
than the one before; renewing keeps the token. Work done under the lock is *fenced*:
each Redis write the scheduler makes runs in a script that first checks that the lock
still holds this holder's token and has not expired (:meth:`RedisLeaderLock.fence_check`
gives the Lua snippet), so a leader that was paused past its lease (GC, a stopped VM)
and lost the lock cannot change anything when it wakes up.

Deadlines come from the caller's clock (tests pass their own): the processes sharing a
lock need synchronized clocks, as the ledger's leases do. The key also gets a Redis
expiry of ten leases, only so that an abandoned lock does not stay forever.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from pipeline.errors import CatalogSyncError

logger = logging.getLogger(__name__)


class FencedError(CatalogSyncError):
    """The lock is no longer held with this token: another holder took over."""


# Lua: parse the lock value into holder, token, deadline (nil when absent).
_PARSE = """
local function parse(v)
  if not v then return nil end
  local h, t, d = string.match(v, '^(.*)|(%d+)|([^|]+)$')
  return h, t, tonumber(d)
end
"""

# KEYS: lock, counter. ARGV: holder, now, ttl. Returns the token, or false.
_ACQUIRE = (
    _PARSE
    + """
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local h, t, d = parse(redis.call('GET', KEYS[1]))
local token
if h == ARGV[1] then
  token = t
elseif h and d > now then
  return false
else
  token = tostring(redis.call('INCR', KEYS[2]))
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token .. '|' .. tostring(now + ttl),
  'PX', math.max(1000, math.floor(ttl * 10000)))
return token
"""
)

# KEYS: lock. ARGV: holder, token. Deletes the lock only when it is ours.
_RELEASE = (
    _PARSE
    + """
local h, t = parse(redis.call('GET', KEYS[1]))
if h == ARGV[1] and t == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)


class RedisLeaderLock:
    """One holder at a time per key; ``holder`` names this process (unique per process)."""

    def __init__(self, client: redis.Redis, key: str, holder: str, ttl_s: float) -> None:
        if "|" in holder or not holder:
            raise ValueError(f"holder must be non-empty without '|', got {holder!r}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._r = client
        self.key = key
        self.counter_key = f"{key}:fence"
        self.holder = holder
        self.ttl_s = ttl_s
        self._acquire: Any = client.register_script(_ACQUIRE)
        self._release: Any = client.register_script(_RELEASE)

    def acquire(self, now: float) -> str | None:
        """Take or renew the lock until ``now + ttl``; the fencing token, or None when
        another holder's lease is still running."""
        token = self._acquire(
            keys=[self.key, self.counter_key], args=[self.holder, now, self.ttl_s]
        )
        if token is None:
            return None
        return token.decode() if isinstance(token, bytes) else str(token)

    def release(self, token: str) -> bool:
        """Give the lock up (only if still ours), so another process takes over at once."""
        return bool(self._release(keys=[self.key], args=[self.holder, token]))

    def holder_now(self) -> tuple[str, str, float] | None:
        """(holder, token, deadline) of the current value, for operators and tests."""
        raw = self._r.get(self.key)
        if raw is None:
            return None
        holder, token, deadline = (raw.decode() if isinstance(raw, bytes) else str(raw)).rsplit(
            "|", 2
        )
        return holder, token, float(deadline)

    @staticmethod
    def fence_check(lock_key_index: int, holder_arg: int, token_arg: int, now_arg: int) -> str:
        """A Lua prelude that aborts with ``FENCED`` unless KEYS[lock_key_index] holds
        ARGV[holder_arg]/ARGV[token_arg] with a deadline after ARGV[now_arg]."""
        return (
            _PARSE
            + f"""
local fh, ft, fd = parse(redis.call('GET', KEYS[{lock_key_index}]))
if fh ~= ARGV[{holder_arg}] or ft ~= ARGV[{token_arg}] or fd <= tonumber(ARGV[{now_arg}]) then
  return redis.error_reply('FENCED lock lost')
end
"""
        )
