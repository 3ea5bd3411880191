"""What we hold about each product, in Redis: the record, its QC state, whether it is live.

The vector store and the keyword index hold what search needs; this store holds what the
API shows and what a re-sync diffs against. A product is *live* (searchable) only when
it is approved and indexed for its current content hash.

Keys (``RedisKeys``; ``ns`` is ``REDIS_NAMESPACE``):
  ``ns:product:{id}``          hash: record (JSON), status, verdict (JSON), live, indexed_hash
  ``ns:seller:{seller}:hashes`` hash: product id -> content hash (what the last sync saw)
  ``ns:search:generation``     counter bumped on every change that can alter search results
  ``ns:seller:{seller}:counts`` hash: bucket -> products (``pipeline.product_counts``)
  ``ns:search:changes``        sorted set: product id -> the generation of its last change
                               (written with the bump, atomically: what search mirrors follow)
  ``ns:search:removed``        sorted set: removed product id -> generation (the log's
                               tombstones; past ``MAX_TOMBSTONES`` the oldest leave the log)
  ``ns:search:changes-floor``  the newest generation trimmed from the log
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis

from pipeline import product_counts
from pipeline.ledger.lua import LuaScript
from pipeline.records import ProductRecord, QCVerdict
from pipeline.redis_keys import RedisKeys


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


# Each change of a product's state is one script: the state, the seller's counts and the
# search generation move together (scripts/_products.lua holds what they share). A script
# is loaded on the server by its first call (NOSCRIPT: load, run again).
_PRODUCTS = ("_products",)
_PUT = LuaScript("product_put", preludes=_PRODUCTS)
_REMOVE = LuaScript("product_remove", preludes=_PRODUCTS)
_SET_STATE = LuaScript("product_set_state", preludes=_PRODUCTS)
_MARK_INDEXED = LuaScript("product_mark_indexed", preludes=_PRODUCTS)
_READ_COUNTS = LuaScript("product_counts", preludes=_PRODUCTS)

# Removed products stay in the change log (so readers drop them) up to this many; the
# oldest then leave it, and a reader behind them reloads from the whole log.
MAX_TOMBSTONES = 100_000


class RedisProductStore:
    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r = client
        self.keys = keys
        # The scripts find a product's seller in its record: they build its counts key
        # from these two parts (prefix, suffix), never from a name of their own.
        prefix, _, suffix = keys.seller_counts("\0").partition("\0")
        self._counts_parts = (prefix, suffix)

    def _product_key(self, product_id: str) -> str:
        return self.keys.product(product_id)

    def _hashes_key(self, seller_id: str) -> str:
        return self.keys.seller_hashes(seller_id)

    def _counts_key(self, seller_id: str) -> str:
        return self.keys.seller_counts(seller_id)

    @property
    def generation_key(self) -> str:
        return self.keys.search_generation

    @property
    def changes_key(self) -> str:
        return self.keys.search_changes

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
        """Record scraped products: a new content hash is pending (not live until indexed);
        the version already held keeps its progress, since its jobs are still under way.
        One script: the batch and its search generation bump are one atomic step."""
        keys: list[str] = [self.generation_key, self.changes_key, self.keys.search_removed]
        args: list[str] = []
        for record in records:
            sid = record.seller_id
            keys += [self._product_key(record.product_id), self._hashes_key(sid),
                     self._counts_key(sid)]  # fmt: skip
            args += [record.model_dump_json(), record.product_id, record.content_hash]
        _PUT(self._r, keys=keys, args=args)

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
        *,
        only_from: Collection[ProductStatus] = (),
    ) -> bool:
        """Set the status if the product still has this content hash (and, with
        ``only_from``, one of those statuses); False if it moved on.

        A stage finishing late for an older version of a product must not overwrite
        the state of the newer one, hence the hash check (done atomically in Lua); a
        retried stage must not undo what the stages after it decided, hence ``only_from``.
        """
        args = [content_hash, status.value, verdict.model_dump_json() if verdict else "",
                product_id, *self._counts_parts, *(s.value for s in only_from)]  # fmt: skip
        keys = [self._product_key(product_id), self.generation_key, self.changes_key]
        return bool(_SET_STATE(self._r, keys=keys, args=args))

    def mark_indexed(self, product_id: str, content_hash: str) -> bool:
        """The keyword index holds this version: it is live if approved. False if stale."""
        keys = [self._product_key(product_id), self.generation_key, self.changes_key]
        return bool(
            _MARK_INDEXED(self._r, keys=keys, args=[content_hash, product_id, *self._counts_parts])
        )

    def remove(
        self, seller_id: str, product_ids: list[str], *, max_tombstones: int = MAX_TOMBSTONES
    ) -> None:
        """Forget these products of the seller (one atomic step with the generation bump)."""
        keys = [self.generation_key, self.changes_key, self.keys.search_removed,
                self.keys.search_changes_floor, self._hashes_key(seller_id),
                self._counts_key(seller_id), *map(self._product_key, product_ids)]  # fmt: skip
        _REMOVE(self._r, keys=keys, args=[max_tombstones, *product_ids])

    def seller_product_ids(self, seller_id: str) -> list[str]:
        return sorted(k.decode() for k in self._r.hkeys(self._hashes_key(seller_id)))  # type: ignore[union-attr]

    def seller_counts(self, seller_id: str) -> dict[str, int]:
        """How the seller's products stand: live, rejected, flagged, failed, in progress.
        O(1): the counts are kept by every state change (``pipeline.product_counts``)."""
        raw = _READ_COUNTS(
            self._r,
            keys=[self._hashes_key(seller_id), self._counts_key(seller_id)],
            args=[self._product_key("")],
        )
        return product_counts.decode_counts(cast(list[bytes], raw))

    def generation(self) -> int:
        return int(self._r.get(self.generation_key) or 0)  # type: ignore[arg-type]

    def changes_since(self, generation: int) -> list[tuple[str, int]]:
        """Products changed after ``generation``, each once, with its latest generation."""
        raw = self._r.zrangebyscore(self.changes_key, f"({generation}", "+inf", withscores=True)
        return [(pid.decode(), int(score)) for pid, score in raw]  # type: ignore[union-attr]

    def changes_floor(self) -> int:
        """Changes up to this generation may be gone from the log (trimmed tombstones): a
        reader whose cursor is behind it must start over from the whole log."""
        return int(self._r.get(self.keys.search_changes_floor) or 0)  # type: ignore[arg-type]

    def change_count(self, generation: int) -> int:
        return int(self._r.zcount(self.changes_key, f"({generation}", "+inf"))  # type: ignore[arg-type]

    def changed_at(self, product_ids: list[str]) -> dict[str, float]:
        """The generation at which each product was last added or changed (higher is
        newer); products never seen are left out."""
        if not product_ids:
            return {}
        scores = self._r.zmscore(self.changes_key, product_ids)
        return {
            pid: float(score)
            for pid, score in zip(product_ids, scores, strict=True)  # type: ignore[arg-type]
            if score is not None
        }

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
