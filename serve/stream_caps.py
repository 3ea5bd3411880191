"""Caps on open progress streams, per client and per sync, in one API replica.

A stream holds a connection and polls Redis for up to an hour; without a cap one key
could open thousands. The counts live in the replica's memory (streams end with their
connection, so nothing outlives the process); with N replicas a client may hold N times
the cap, which is still bounded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

STREAMS_PER_CLIENT = 4
STREAMS_PER_SYNC = 16


@dataclass
class StreamSlot:
    """One open stream; ``release`` is idempotent (the stream and its cleanup both call it)."""

    caps: StreamCaps
    client: str
    sync_id: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.caps._drop(self.client, self.sync_id)


@dataclass
class StreamCaps:
    per_client: int = STREAMS_PER_CLIENT
    per_sync: int = STREAMS_PER_SYNC
    _clients: Counter[str] = field(default_factory=Counter)
    _syncs: Counter[str] = field(default_factory=Counter)

    def acquire(self, client: str, sync_id: str) -> StreamSlot | None:
        """A slot, or None when the client or the sync already has its cap of streams.
        Runs on the event loop only (no await inside), so the check and count are one step."""
        if self._clients[client] >= self.per_client or self._syncs[sync_id] >= self.per_sync:
            return None
        self._clients[client] += 1
        self._syncs[sync_id] += 1
        return StreamSlot(self, client, sync_id)

    def _drop(self, client: str, sync_id: str) -> None:
        for counter, key in ((self._clients, client), (self._syncs, sync_id)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

    def open_streams(self) -> int:
        return sum(self._clients.values())
