"""The durable webhook outbox in Redis: deliveries, their retry schedule, dead letters,
and the cursor over the ledger's events stream.

Keys (``RedisKeys``; ``ns`` is ``REDIS_NAMESPACE``)::

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

from pipeline.ledger.lua import Arg, LuaScript
from pipeline.redis_keys import RedisKeys

DEAD_KEEP = 10_000
DEAD_TTL_S = 30 * 86_400

_PRODUCE = LuaScript("webhook_produce", preludes=())

_CLAIM = LuaScript("webhook_claim", preludes=())

_FINISH = LuaScript("webhook_finish", preludes=())


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

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r = client
        self.keys = keys
        self.cursor_key = keys.webhook_cursor
        self.due_key = keys.webhook_due
        self.dead_key = keys.webhook_dead
        self.stats_key = keys.webhook_stats
        self._dkey = keys.webhook_delivery("")

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
        args: list[Any] = [self._dkey, self.keys.webhook_once(""), expected, new_cursor, repr(now)]
        for d in deliveries:
            args += [d.id, d.seller_id, d.event, d.body, d.once_key, max(1, d.once_ttl_ms)]
        return int(
            _PRODUCE(self._r, keys=[self.cursor_key, self.due_key, self.stats_key], args=args)
        )

    def claim(self, now: float, limit: int, lease_s: float) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries for ``lease_s`` seconds."""
        rows = _CLAIM(self._r, keys=[self.due_key], args=[self._dkey, repr(now), limit, lease_s])
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
        args: list[Arg] = [self._dkey, d.id, d.claim, outcome, repr(due), error[:500]]
        args += [d.attempt + 1, DEAD_TTL_S, DEAD_KEEP]
        keys = [self.due_key, self.dead_key, self.stats_key]
        return bool(_FINISH(self._r, keys, args))

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        raw: Any = self._r.hgetall(self.keys.webhook_delivery(delivery_id))
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

    def dead_count(self) -> int:
        """Dead deliveries still listed (the newest ``DEAD_KEEP``)."""
        return int(self._r.llen(self.dead_key))  # type: ignore[arg-type]

    def pending(self) -> int:
        return int(self._r.zcard(self.due_key))  # type: ignore[arg-type]

    def stats(self) -> dict[str, int]:
        raw: Any = self._r.hgetall(self.stats_key)
        return {_s(k): int(v) for k, v in raw.items()}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
