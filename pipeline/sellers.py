"""Seller profiles in Redis: tier (queue priority), catalog URL, webhook, sync schedule.

Keys (``RedisKeys``; ``ns`` is ``REDIS_NAMESPACE``)::

    ns:seller-profile:<id>   hash: tier, catalog_url, source, webhook_url, webhook_secret,
                             created_at, updated_at, last_sync_at, last_sync_id, next_sync_due,
                             display_name, whatsapp, shop_url (what shoppers see), and
                             filled_by_source (those a source filled, not the operator)
    ns:seller-profiles       zset: every registered seller, score = registration time
    ns:sellers:due           zset: sellers with a catalog URL, score = next re-sync due time

The tier decides the priority of a seller's syncs (premium first); the due set feeds the
scheduler. The webhook secret is stored as given (it signs outgoing requests, so it
cannot be a one-way hash) and is never shown back after registration.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from pipeline.errors import PermanentError
from pipeline.records import ID_PATTERN, Priority
from pipeline.redis_keys import RedisKeys
from pipeline.seller_contact import CONTACT_FIELDS, check_contact

MAX_URL_CHARS = 2048
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 256
SECRET_PREFIX = "whsec_"


class SellerTier(StrEnum):
    PREMIUM = "premium"
    STANDARD = "standard"
    BASIC = "basic"

    @property
    def priority(self) -> Priority:
        return _TIER_PRIORITY[self]

    @classmethod
    def parse(cls, name: str) -> SellerTier:
        """Raises PermanentError for an unknown tier name."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise PermanentError(f"tier must be one of {names}; got {name[:40]!r}") from None


_TIER_PRIORITY = {
    SellerTier.PREMIUM: Priority.HIGH,
    SellerTier.STANDARD: Priority.NORMAL,
    SellerTier.BASIC: Priority.LOW,
}


@dataclass(frozen=True)
class SellerProfile:
    seller_id: str
    tier: SellerTier
    catalog_url: str | None
    source: str
    webhook_url: str | None
    webhook_secret: str | None
    created_at: float
    updated_at: float
    last_sync_at: float | None
    last_sync_id: str | None
    next_sync_due: float | None
    display_name: str | None = None
    whatsapp: str | None = None
    shop_url: str | None = None

    def public(self) -> dict[str, Any]:
        """The profile as the API and CLI show it: the webhook secret never leaves."""
        return {
            "seller_id": self.seller_id,
            "tier": self.tier.value,
            "priority": self.tier.priority.name.lower(),
            "catalog_url": self.catalog_url,
            "source": self.source,
            "webhook_url": self.webhook_url,
            "webhook_secret_set": self.webhook_secret is not None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_sync_at": self.last_sync_at,
            "last_sync_id": self.last_sync_id,
            "next_sync_due": self.next_sync_due,
            "display_name": self.display_name,
            "whatsapp": self.whatsapp,
            "shop_url": self.shop_url,
        }


def schedule_offset(seller_id: str, period_s: float) -> float:
    """The seller's fixed place in the re-sync period: a hash of its id, so sellers are
    spread evenly over the period and a seller keeps its slot across restarts."""
    digest = int.from_bytes(hashlib.sha256(seller_id.encode()).digest()[:8], "big")
    return (digest / 2**64) * period_s


def next_slot(seller_id: str, period_s: float, after: float) -> float:
    """The first time strictly after ``after`` at the seller's offset in the period."""
    offset = schedule_offset(seller_id, period_s)
    cycles = (after - offset) // period_s + 1
    return offset + cycles * period_s


def validate_webhook_secret(secret: str) -> None:
    if not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS or not secret.isprintable():
        raise PermanentError(
            f"webhook secret must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} printable characters"
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSellerDirectory:
    """Seller profiles. Thread-safe (redis-py's pool); every write is one MULTI."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        *,
        resync_period_s: float = 86_400.0,
        clock: Any = time.time,
    ) -> None:
        self._r = client
        self.keys = keys
        self.period_s = resync_period_s
        self._clock = clock

    def key(self, seller_id: str) -> str:
        return self.keys.seller_profile(seller_id)

    @property
    def index_key(self) -> str:
        return self.keys.seller_profiles

    @property
    def due_key(self) -> str:
        return self.keys.sellers_due

    def upsert(
        self,
        seller_id: str,
        *,
        tier: SellerTier | None = None,
        catalog_url: str | None = None,
        source: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        remove_webhook: bool = False,
        display_name: str | None = None,
        whatsapp: str | None = None,
        shop_url: str | None = None,
    ) -> tuple[SellerProfile, str | None]:
        """Create or update a profile; fields left None keep their value.

        Returns the profile and, when a webhook URL was set without a secret and the
        seller had none, the generated secret (shown once). The webhook URL must already
        have passed the SSRF check (``pipeline.notify.webhooks.check_webhook_url``).
        ``display_name``, ``whatsapp`` (E.164 digits) and ``shop_url`` are what shoppers
        see; an empty string clears one. Set here, they win over what a source fills.
        Raises PermanentError for a bad seller id, URL length, secret or contact.
        """
        _check_upsert(seller_id, catalog_url, webhook_url, webhook_secret)
        contact = check_contact(display_name, whatsapp, shop_url)
        now = self._clock()
        current = self.get(seller_id)
        fields: dict[str, str] = {"updated_at": repr(now)}
        if current is None:
            fields["created_at"] = repr(now)
        if tier is not None or current is None:
            fields["tier"] = (tier or SellerTier.STANDARD).value
        if catalog_url is not None:
            fields["catalog_url"] = catalog_url
        if source is not None:
            fields["source"] = source
        generated = None
        drop = ["webhook_url", "webhook_secret"] if remove_webhook else []
        if webhook_url is not None and not remove_webhook:
            fields["webhook_url"] = webhook_url
            if webhook_secret is None and (current is None or current.webhook_secret is None):
                generated = webhook_secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        if webhook_secret is not None and not remove_webhook:
            fields["webhook_secret"] = webhook_secret
        has_catalog = catalog_url is not None or (current is not None and current.catalog_url)
        fields.update({k: v for k, v in contact.items() if v})
        drop += [k for k, v in contact.items() if not v]
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self.key(seller_id), mapping=fields)
        if contact and current is not None:
            # The operator's word stands: a later sync does not overwrite these fields.
            sourced = self._sourced(seller_id) - set(contact)
            pipe.hset(self.key(seller_id), "filled_by_source", ",".join(sorted(sourced)))
        if drop:
            pipe.hdel(self.key(seller_id), *drop)
        if current is None:
            pipe.zadd(self.index_key, {seller_id: now})
        if has_catalog and (current is None or current.next_sync_due is None):
            due = next_slot(seller_id, self.period_s, now)
            pipe.hset(self.key(seller_id), "next_sync_due", repr(due))
            pipe.zadd(self.due_key, {seller_id: due})
        pipe.execute()
        profile = self.get(seller_id)
        assert profile is not None  # written just above
        return profile, generated

    def get(self, seller_id: str) -> SellerProfile | None:
        raw = self._r.hgetall(self.key(seller_id))
        if not raw:
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}  # type: ignore[union-attr]
        return SellerProfile(
            seller_id=seller_id,
            tier=SellerTier(h.get("tier", SellerTier.STANDARD.value)),
            catalog_url=h.get("catalog_url") or None,
            source=h.get("source") or "auto",
            webhook_url=h.get("webhook_url") or None,
            webhook_secret=h.get("webhook_secret") or None,
            created_at=float(h.get("created_at") or 0),
            updated_at=float(h.get("updated_at") or 0),
            last_sync_at=float(h["last_sync_at"]) if h.get("last_sync_at") else None,
            last_sync_id=h.get("last_sync_id") or None,
            next_sync_due=float(h["next_sync_due"]) if h.get("next_sync_due") else None,
            display_name=h.get("display_name") or None,
            whatsapp=h.get("whatsapp") or None,
            shop_url=h.get("shop_url") or None,
        )

    def _sourced(self, seller_id: str) -> set[str]:
        raw = self._r.hget(self.key(seller_id), "filled_by_source")
        return {f for f in _text(raw).split(",") if f} if raw else set()

    def fill_from_source(
        self,
        seller_id: str,
        *,
        display_name: str | None = None,
        whatsapp: str | None = None,
        shop_url: str | None = None,
    ) -> list[str]:
        """What a catalog says about its seller (business name, WhatsApp number, shop
        URL): written where the profile has nothing, or only what a source wrote before;
        never over the operator's ``sellers set``. A seller without a profile gets one
        (standard tier). Values that do not validate are left out. Returns the fields
        written."""
        wanted: dict[str, str] = {}
        for name, value in (("display_name", display_name), ("whatsapp", whatsapp),
                            ("shop_url", shop_url)):  # fmt: skip
            if not value:
                continue
            try:
                wanted.update(check_contact(**{**dict.fromkeys(CONTACT_FIELDS), name: value}))
            except PermanentError:
                continue
        if not wanted:
            return []
        _check_id(seller_id)
        raw = self._r.hgetall(self.key(seller_id))
        current = {_text(k): _text(v) for k, v in raw.items()}  # type: ignore[union-attr]
        sourced = {f for f in current.get("filled_by_source", "").split(",") if f}
        fields = {
            k: v
            for k, v in wanted.items()
            if (not current.get(k) or k in sourced) and current.get(k) != v
        }
        if not fields:
            return []
        now = self._clock()
        pipe = self._r.pipeline(transaction=True)
        if not current:
            fields.update(tier=SellerTier.STANDARD.value, created_at=repr(now))
            pipe.zadd(self.index_key, {seller_id: now})
        written = sorted(k for k in fields if k in CONTACT_FIELDS)
        fields["filled_by_source"] = ",".join(sorted(sourced | set(written)))
        fields["updated_at"] = repr(now)
        pipe.hset(self.key(seller_id), mapping=fields)
        pipe.execute()
        return written

    def contacts(self, seller_ids: set[str]) -> dict[str, dict[str, str]]:
        """Display name, WhatsApp number and shop URL of each seller that has any (one
        round trip; for search hits)."""
        ordered = sorted(seller_ids)
        pipe = self._r.pipeline(transaction=False)
        for seller_id in ordered:
            pipe.hmget(self.key(seller_id), list(CONTACT_FIELDS))
        out: dict[str, dict[str, str]] = {}
        for seller_id, values in zip(ordered, pipe.execute(), strict=True):
            found = {k: _text(v) for k, v in zip(CONTACT_FIELDS, values, strict=True) if v}
            if found:
                out[seller_id] = found
        return out

    def seller_ids_with_products(self, limit: int = 10_000) -> list[str]:
        """Every seller the product store holds products for (a SCAN of its per-seller
        hashes: for the CLI and operators, not for requests), sorted."""
        head, _, tail = self.keys.seller_hashes("\0").partition("\0")
        found = set()
        for key in self._r.scan_iter(match=f"{head}*{tail}", count=1000):
            found.add(_text(key)[len(head) : len(_text(key)) - len(tail)])
            if len(found) >= limit:
                break
        return sorted(found)

    def list(self, *, offset: int = 0, limit: int = 100) -> list[SellerProfile]:
        """Profiles in registration order. Raises ValueError for a limit outside 1-1000."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError(f"limit must be 1-1000 and offset >= 0, got {limit}, {offset}")
        ids = self._r.zrange(self.index_key, offset, offset + limit - 1)
        profiles = (self.get(_text(i)) for i in ids)  # type: ignore[union-attr]
        return [p for p in profiles if p is not None]

    def delete(self, seller_id: str) -> bool:
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self.key(seller_id))
        pipe.zrem(self.index_key, seller_id)
        pipe.zrem(self.due_key, seller_id)
        return bool(pipe.execute()[0])

    def priority_for(self, seller_id: str) -> Priority:
        """The priority of the seller's tier; NORMAL for a seller with no profile."""
        tier = self._r.hget(self.key(seller_id), "tier")
        return SellerTier(_text(tier)).priority if tier else Priority.NORMAL

    def record_sync(self, seller_id: str, sync_id: str, at: float | None = None) -> None:
        """Remember a seller's latest sync (only for registered sellers)."""
        key = self.key(seller_id)
        if self._r.exists(key):
            when = self._clock() if at is None else at
            self._r.hset(key, mapping={"last_sync_at": repr(when), "last_sync_id": sync_id})

    def webhook(self, seller_id: str) -> tuple[str, str] | None:
        """The seller's webhook URL and secret, or None when it has none."""
        values: list[Any] = self._r.hmget(  # type: ignore[assignment]
            self.key(seller_id), ["webhook_url", "webhook_secret"]
        )
        url, secret = values
        if not url or not secret:
            return None
        return _text(url), _text(secret)

    def sellers_with_webhooks(self, seller_ids: set[str]) -> set[str]:
        """Those of ``seller_ids`` that have a webhook registered (one round trip)."""
        ordered = sorted(seller_ids)
        pipe = self._r.pipeline(transaction=False)
        for seller_id in ordered:
            pipe.hexists(self.key(seller_id), "webhook_url")
        flags: list[Any] = pipe.execute()
        return {s for s, has in zip(ordered, flags, strict=True) if has}


def _check_id(seller_id: str) -> None:
    if not re.fullmatch(ID_PATTERN, seller_id):
        raise PermanentError(f"seller id must match {ID_PATTERN}, got {seller_id[:80]!r}")


def _check_upsert(
    seller_id: str, catalog_url: str | None, webhook_url: str | None, secret: str | None
) -> None:
    _check_id(seller_id)
    for name, url in (("catalog_url", catalog_url), ("webhook_url", webhook_url)):
        if url is not None and not 1 <= len(url) <= MAX_URL_CHARS:
            raise PermanentError(f"{name} must be 1-{MAX_URL_CHARS} characters")
    if secret is not None:
        validate_webhook_secret(secret)
