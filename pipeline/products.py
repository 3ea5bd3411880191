"""What we hold about each product, in Redis: the record, its QC state, whether it is live.

The vector store and the keyword index hold what search needs; this store holds what the
API shows and what a re-sync diffs against. A product is *live* (searchable) only when
it is approved and indexed for its current content hash.

Keys (namespace ``cs``):
  ``cs:product:{id}``          hash: record (JSON), status, verdict (JSON), live, indexed_hash
  ``cs:seller:{seller}:hashes`` hash: product id -> content hash (what the last sync saw)
  ``cs:search:generation``     counter bumped on every change that can alter search results
  ``cs:search:changes``        sorted set: product id -> the generation of its last change
                               (written with the bump, atomically: what search mirrors follow)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis

from pipeline.records import ProductRecord, QCVerdict


class ProductStatus(StrEnum):
    PENDING = "pending"  # scraped, not yet embedded or checked
    EMBEDDED = "embedded"  # vectors stored, waiting for QC
    APPROVED = "approved"
    REJECTED = "rejected"
    FLAGGED = "flagged"  # held for a human review
    FAILED = "failed"  # a stage gave up on it (see the dead-letter queue)


@dataclass(frozen=True)
class StoredProduct:
    record: ProductRecord
    status: ProductStatus
    verdict: QCVerdict | None
    live: bool


@dataclass(frozen=True)
class CatalogDiff:
    changed: list[ProductRecord]  # new, or content hash differs from what we hold
    unchanged: list[ProductRecord]
    removed: list[str]  # product ids we hold that the catalog no longer lists


class RedisProductStore:
    def __init__(self, client: redis.Redis, namespace: str = "cs") -> None:
        self._r = client
        self._ns = namespace
        self._set_state = client.register_script(_SET_STATE)
        self._mark_indexed = client.register_script(_MARK_INDEXED)
        self._bump = client.register_script(_BUMP)

    def _product_key(self, product_id: str) -> str:
        return f"{self._ns}:product:{product_id}"

    def _hashes_key(self, seller_id: str) -> str:
        return f"{self._ns}:seller:{seller_id}:hashes"

    @property
    def generation_key(self) -> str:
        return f"{self._ns}:search:generation"

    @property
    def changes_key(self) -> str:
        return f"{self._ns}:search:changes"

    def diff(self, seller_id: str, scraped: Iterable[ProductRecord]) -> CatalogDiff:
        """Compare a fresh scrape with the last one we recorded for this seller."""
        raw = cast(dict[bytes, bytes], self._r.hgetall(self._hashes_key(seller_id)))
        held = {k.decode(): v.decode() for k, v in raw.items()}
        changed: list[ProductRecord] = []
        unchanged: list[ProductRecord] = []
        seen: set[str] = set()
        scraped = list(scraped)
        settled = self._settled([r.product_id for r in scraped])
        for record in scraped:
            seen.add(record.product_id)
            if held.get(record.product_id) == record.content_hash and record.product_id in settled:
                unchanged.append(record)
            else:
                changed.append(record)
        removed = sorted(set(held) - seen)
        return CatalogDiff(changed=changed, unchanged=unchanged, removed=removed)

    def put_many(self, records: list[ProductRecord]) -> None:
        """Record scraped products as pending (a new content hash is not live until indexed)."""
        pipe = self._r.pipeline(transaction=True)
        for record in records:
            key = self._product_key(record.product_id)
            pipe.hset(
                key,
                mapping={
                    "record": record.model_dump_json(),
                    "status": ProductStatus.PENDING.value,
                    "live": "0",
                },
            )
            pipe.hdel(key, "verdict", "indexed_hash")
            pipe.hset(self._hashes_key(record.seller_id), record.product_id, record.content_hash)
        self._bump_in(pipe, [r.product_id for r in records])
        pipe.execute()

    def _bump_in(self, pipe: redis.client.Pipeline, product_ids: list[str]) -> None:
        self._bump(keys=[self.generation_key, self.changes_key], args=product_ids, client=pipe)

    def get(self, product_id: str) -> StoredProduct | None:
        raw = self._r.hgetall(self._product_key(product_id))
        return self._decode(raw) if raw else None  # type: ignore[arg-type]

    def get_many(self, product_ids: list[str]) -> dict[str, StoredProduct]:
        pipe = self._r.pipeline(transaction=False)
        for pid in product_ids:
            pipe.hgetall(self._product_key(pid))
        out: dict[str, StoredProduct] = {}
        for pid, raw in zip(product_ids, pipe.execute(), strict=True):
            if raw:
                out[pid] = self._decode(raw)
        return out

    def _settled(self, product_ids: list[str]) -> set[str]:
        """Products whose last version finished the pipeline: live, rejected or flagged.

        Anything else (pending, embedded, failed, approved but not indexed) was cut short
        (a crash, a dead letter) and is redone by the next sync.
        """
        pipe = self._r.pipeline(transaction=False)
        for pid in product_ids:
            pipe.hmget(self._product_key(pid), ["status", "live"])
        settled = set()
        for pid, (status, live) in zip(product_ids, pipe.execute(), strict=True):
            if status in (b"rejected", b"flagged") or live == b"1":
                settled.add(pid)
        return settled

    @staticmethod
    def _decode(raw: dict[bytes, bytes]) -> StoredProduct:
        verdict = raw.get(b"verdict")
        return StoredProduct(
            record=ProductRecord.model_validate_json(raw[b"record"]),
            status=ProductStatus(raw[b"status"].decode()),
            verdict=QCVerdict.model_validate_json(verdict) if verdict else None,
            live=raw.get(b"live") == b"1",
        )

    def set_status(
        self,
        product_id: str,
        content_hash: str,
        status: ProductStatus,
        verdict: QCVerdict | None = None,
    ) -> bool:
        """Set the status if the product still has this content hash; False if it moved on.

        A stage finishing late for an older version of a product must not overwrite
        the state of the newer one, hence the hash check (done atomically in Lua).
        """
        args = [content_hash, status.value, verdict.model_dump_json() if verdict else "",
                product_id]  # fmt: skip
        keys = [self._product_key(product_id), self.generation_key, self.changes_key]
        return bool(self._set_state(keys=keys, args=args))

    def mark_indexed(self, product_id: str, content_hash: str) -> bool:
        """The keyword index holds this version: it is live if approved. False if stale."""
        return bool(
            self._mark_indexed(
                keys=[self._product_key(product_id), self.generation_key, self.changes_key],
                args=[content_hash, product_id],
            )
        )

    def remove(self, seller_id: str, product_ids: list[str]) -> None:
        pipe = self._r.pipeline(transaction=True)
        for pid in product_ids:
            pipe.delete(self._product_key(pid))
            pipe.hdel(self._hashes_key(seller_id), pid)
        self._bump_in(pipe, product_ids)
        pipe.execute()

    def seller_product_ids(self, seller_id: str) -> list[str]:
        return sorted(k.decode() for k in self._r.hkeys(self._hashes_key(seller_id)))  # type: ignore[union-attr]

    def seller_counts(self, seller_id: str) -> dict[str, int]:
        """How the seller's products stand: live, rejected, flagged, failed, in progress."""
        ids = self.seller_product_ids(seller_id)
        pipe = self._r.pipeline(transaction=False)
        for pid in ids:
            pipe.hmget(self._product_key(pid), ["status", "live"])
        counts = dict.fromkeys(("live", "rejected", "flagged", "failed", "in_progress"), 0)
        for status, live in pipe.execute():
            if live == b"1":
                counts["live"] += 1
            elif status in (b"rejected", b"flagged", b"failed"):
                counts[status.decode()] += 1
            else:
                counts["in_progress"] += 1
        return counts

    def generation(self) -> int:
        return int(self._r.get(self.generation_key) or 0)  # type: ignore[arg-type]

    def changes_since(self, generation: int) -> list[tuple[str, int]]:
        """Products changed after ``generation``, each once, with its latest generation."""
        raw = self._r.zrangebyscore(self.changes_key, f"({generation}", "+inf", withscores=True)
        return [(pid.decode(), int(score)) for pid, score in raw]  # type: ignore[union-attr]

    def change_count(self, generation: int) -> int:
        return int(self._r.zcount(self.changes_key, f"({generation}", "+inf"))  # type: ignore[arg-type]

    def live_hashes(self, product_ids: list[str]) -> dict[str, str]:
        """The live ones among ``product_ids``, with the content hash that is live."""
        pipe = self._r.pipeline(transaction=False)
        for pid in product_ids:
            pipe.hmget(self._product_key(pid), ["live", "indexed_hash"])
        return {
            pid: indexed.decode()
            for pid, (live, indexed) in zip(product_ids, pipe.execute(), strict=True)
            if live == b"1" and indexed
        }


# KEYS[1] product hash, KEYS[2] generation, KEYS[3] changes; ARGV content hash, status,
# verdict JSON, product id. Live only when approved and the keyword index holds this very
# version.
_SET_STATE = """
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then return 0 end
if cjson.decode(rec)['content_hash'] ~= ARGV[1] then return 0 end
local live = '0'
if ARGV[2] == 'approved' and redis.call('HGET', KEYS[1], 'indexed_hash') == ARGV[1] then
  live = '1'
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'live', live)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'verdict', ARGV[3]) end
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[2]), ARGV[4])
return 1
"""

# KEYS[1] product hash, KEYS[2] generation, KEYS[3] changes; ARGV content hash, product id
_MARK_INDEXED = """
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then return 0 end
if cjson.decode(rec)['content_hash'] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'indexed_hash', ARGV[1])
if redis.call('HGET', KEYS[1], 'status') == 'approved' then
  redis.call('HSET', KEYS[1], 'live', '1')
end
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[2]), ARGV[2])
return 1
"""

# KEYS[1] generation, KEYS[2] changes; ARGV product ids. The bump and the log entries are
# one step, so a reader of the log at generation G has every change up to G.
_BUMP = """
local g = redis.call('INCR', KEYS[1])
for _, pid in ipairs(ARGV) do redis.call('ZADD', KEYS[2], g, pid) end
return g
"""
