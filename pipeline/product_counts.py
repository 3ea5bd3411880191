"""Per-seller product counts (live, rejected, flagged, failed, in progress), kept current
by the same Lua steps that change a product's state, so reading them is O(1).

A progress stream reads them every half second for as long as a sync runs; counting the
catalog on each read cost O(products) a read. Each state change moves one product from
its old bucket to its new one inside the script that makes the change, so the counts are
exactly what a full count would give. A seller whose counts do not exist yet (data from
before they were kept) is counted once, atomically, on the first read; until then the
scripts leave the absent hash alone.

Key: ``RedisKeys.seller_counts(seller)``, a hash: bucket -> products. The scripts are
``pipeline/ledger/scripts/product_*.lua`` (their prelude ``_products.lua`` holds the
bucket rule and the move), run by :class:`pipeline.products.RedisProductStore`.
"""

from __future__ import annotations

BUCKETS = ("live", "rejected", "flagged", "failed", "in_progress")


def decode_counts(raw: list[bytes]) -> dict[str, int]:
    """HGETALL's flat reply as {bucket: count}, every bucket present."""
    counts = dict.fromkeys(BUCKETS, 0)
    for name, value in zip(raw[::2], raw[1::2], strict=True):
        counts[name.decode()] = int(value)
    return counts
