"""The transitions stream: one entry per state change, capped (``MAXLEN ~``).

Each entry holds the job id, type, seller, the state it left (``""`` for a new job, and
a purge goes to ``""``), the state it entered, the time, and a note (``lease-expired``,
``retry in 2.0 s``, ``awaiting-children``, ``progress 40.0`` ...). The API's live status
and webhooks read it with XREAD on :attr:`RedisLedger.events_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis

from pipeline.redis_keys import RedisKeys


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    id: str
    job_id: str
    type: str
    seller_id: str
    from_state: str
    to_state: str
    at: float
    note: str


class RedisEventLog:
    """Reads the ledger's events stream."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._key = keys.events

    def read(self, after_id: str = "0", count: int = 100, block_ms: int = 0) -> list[LedgerEvent]:
        """Up to ``count`` events after ``after_id``, oldest first; with ``block_ms`` > 0
        waits that long for one to arrive. Raises ValueError for a count outside 1-10000."""
        if not 1 <= count <= 10_000:
            raise ValueError(f"count must be 1-10000, got {count}")
        reply = cast(
            list[Any] | None,
            self._client.xread(
                {self._key: after_id}, count=count, block=block_ms if block_ms > 0 else None
            ),
        )
        events = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                f = {k.decode(): v.decode() for k, v in fields.items()}
                events.append(
                    LedgerEvent(
                        id=entry_id.decode(),
                        job_id=f["job"],
                        type=f["type"],
                        seller_id=f["seller"],
                        from_state=f["from"],
                        to_state=f["to"],
                        at=float(f["at"]),
                        note=f.get("note", ""),
                    )
                )
        return events
