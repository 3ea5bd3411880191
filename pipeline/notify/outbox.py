"""The durable webhook outbox in Redis: deliveries, their retry schedule, dead letters,
and the cursor over the ledger's events stream.

Keys (``ns`` is the ledger namespace)::

    ns:wh:cursor            string: the last events-stream id turned into deliveries
    ns:wh:d:<id>            hash: seller, event, body, attempt, claim, created, state, error
    ns:wh:due               zset: pending deliveries, score = next attempt time
    ns:wh:dead              list: dead deliveries, newest first (capped; hashes expire)
    ns:wh:once:<key>        string: "already produced" marks (started/completed/failed once
                            per sync; progress at most once per interval per sync)
    ns:wh:stats             hash: produced, delivered, retried, dead

Producing is compare-and-set on the cursor: deliveries and the new cursor are written in
one script that first checks the cursor is still the one read, so several workers may run
the pump and each event still becomes at most one delivery. Claiming moves a delivery's
due time a lease ahead and bumps its claim number; outcomes carry that number, so a
sender whose lease ran out cannot overwrite a newer attempt's result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

DEAD_KEEP = 10_000
DEAD_TTL_S = 30 * 86_400

_PRODUCE = """
local ns = ARGV[1]
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[2] then return -1 end
local now, n = ARGV[4], 0
for i = 5, #ARGV, 6 do
  local id, seller, ev, body = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local once, ttl = ARGV[i+4], ARGV[i+5]
  local fresh = true
  if once ~= '' then
    fresh = redis.call('SET', ns .. ':wh:once:' .. once, '1', 'NX', 'PX', ttl)
  end
  if fresh and redis.call('EXISTS', ns .. ':wh:d:' .. id) == 0 then
    redis.call('HSET', ns .. ':wh:d:' .. id, 'id', id, 'seller', seller, 'event', ev,
      'body', body, 'attempt', 0, 'claim', 0, 'created', now, 'state', 'pending')
    redis.call('ZADD', KEYS[2], now, id)
    n = n + 1
  end
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('HINCRBY', ns .. ':wh:stats', 'produced', n)
return n
"""

_CLAIM = """
local ns, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ns .. ':wh:d:' .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', KEYS[1], now + lease, id)
    local claim = redis.call('HINCRBY', key, 'claim', 1)
    local h = redis.call('HMGET', key, 'seller', 'event', 'body', 'attempt')
    out[#out + 1] = {id, h[1], h[2], h[3], h[4], claim}
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

# ARGV: ns, id, claim, outcome (delivered|retry|dead), due, error, attempt
_FINISH = """
local ns, id = ARGV[1], ARGV[2]
local key = ns .. ':wh:d:' .. id
if redis.call('HGET', key, 'claim') ~= ARGV[3] then return 0 end
local outcome = ARGV[4]
if outcome == 'delivered' then
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
elseif outcome == 'retry' then
  redis.call('HSET', key, 'attempt', ARGV[7], 'error', ARGV[6], 'state', 'retrying')
  redis.call('ZADD', KEYS[1], tonumber(ARGV[5]), id)
else
  redis.call('HSET', key, 'attempt', ARGV[7], 'error', ARGV[6], 'state', 'dead')
  redis.call('ZREM', KEYS[1], id)
  redis.call('EXPIRE', key, tonumber(ARGV[8]))
  redis.call('LPUSH', KEYS[2], id)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[9]) - 1)
end
redis.call('HINCRBY', ns .. ':wh:stats', outcome, 1)
return 1
"""


@dataclass(frozen=True)
class NewDelivery:
    id: str
    seller_id: str
    event: str
    body: bytes
    once_key: str = ""  # produce only if this mark is not set yet
    once_ttl_ms: int = 0


@dataclass(frozen=True)
class ClaimedDelivery:
    id: str
    seller_id: str
    event: str
    body: bytes
    attempt: int  # attempts made before this one
    claim: int


class RedisWebhookOutbox:
    """Deliveries waiting to be sent. Thread-safe (redis-py's pool)."""

    def __init__(self, client: redis.Redis, namespace: str = "cs") -> None:
        self._r = client
        self.ns = namespace
        self.cursor_key = f"{namespace}:wh:cursor"
        self.due_key = f"{namespace}:wh:due"
        self.dead_key = f"{namespace}:wh:dead"
        self.stats_key = f"{namespace}:wh:stats"
        self._produce: Any = client.register_script(_PRODUCE)
        self._claim: Any = client.register_script(_CLAIM)
        self._finish: Any = client.register_script(_FINISH)

    def cursor(self, events_key: str) -> str:
        """The cursor; a first start begins at the stream's current end (history before
        the notifier ever ran is not replayed to sellers)."""
        raw = self._r.get(self.cursor_key)
        if raw is None:
            last: Any = self._r.xrevrange(events_key, count=1)
            start = last[0][0].decode() if last else "0-0"
            self._r.set(self.cursor_key, start, nx=True)
            raw = self._r.get(self.cursor_key)
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def produce(
        self, expected: str, new_cursor: str, deliveries: list[NewDelivery], now: float
    ) -> int:
        """Write deliveries and move the cursor, only if it is still ``expected``.

        Returns how many deliveries were created, or -1 when another pump moved the
        cursor first (nothing written: read again from the new cursor)."""
        args: list[Any] = [self.ns, expected, new_cursor, repr(now)]
        for d in deliveries:
            args += [d.id, d.seller_id, d.event, d.body, d.once_key, max(1, d.once_ttl_ms)]
        return int(self._produce(keys=[self.cursor_key, self.due_key], args=args))

    def claim(self, now: float, limit: int, lease_s: float) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries for ``lease_s`` seconds."""
        rows = self._claim(keys=[self.due_key], args=[self.ns, repr(now), limit, lease_s])
        return [
            ClaimedDelivery(
                id=_s(r[0]),
                seller_id=_s(r[1]),
                event=_s(r[2]),
                body=bytes(r[3]),
                attempt=int(r[4]),
                claim=int(r[5]),
            )
            for r in rows
        ]

    def finish(
        self, d: ClaimedDelivery, outcome: str, *, due: float = 0.0, error: str = ""
    ) -> bool:
        """Record ``delivered``, ``retry`` (next attempt at ``due``) or ``dead``; False
        when a newer claim owns the delivery (this result is dropped)."""
        args = [self.ns, d.id, d.claim, outcome, repr(due), error[:500], d.attempt + 1]
        args += [DEAD_TTL_S, DEAD_KEEP]
        return bool(self._finish(keys=[self.due_key, self.dead_key], args=args))

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        raw: Any = self._r.hgetall(f"{self.ns}:wh:d:{delivery_id}")
        if not raw:
            return None
        out: dict[str, Any] = {_s(k): _s(v) for k, v in raw.items()}
        out["body"] = json.loads(out["body"])
        return out

    def dead(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest dead deliveries, newest first."""
        ids: Any = self._r.lrange(self.dead_key, 0, max(0, limit - 1))
        found = (self.get(_s(i)) for i in ids)
        return [d for d in found if d is not None]

    def pending(self) -> int:
        return int(self._r.zcard(self.due_key))  # type: ignore[arg-type]

    def stats(self) -> dict[str, int]:
        raw: Any = self._r.hgetall(self.stats_key)
        return {_s(k): int(v) for k, v in raw.items()}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
