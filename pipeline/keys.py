"""API keys and who they belong to, in Redis with a TTL.

Only a SHA-256 of each key is stored, so a Redis dump leaks no usable key. A seller key
may sync and review that seller's catalog; an admin key may do everything. The
``API_ADMIN_KEY`` setting is an admin key that needs no Redis entry (for bootstrapping).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

import redis

from pipeline.records import ID_PATTERN

KEY_PREFIX = "csk_"
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Principal:
    seller_id: str | None
    admin: bool
    key_id: str  # a short, non-secret name for logs and rate limits

    def may_act_for(self, seller_id: str) -> bool:
        return self.admin or self.seller_id == seller_id


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(
        self, client: redis.Redis, admin_key: str | None = None, namespace: str = "cs"
    ) -> None:
        self._r = client
        self._admin_key = admin_key
        self._ns = namespace

    def _key(self, digest: str) -> str:
        return f"{self._ns}:apikey:{digest}"

    def create(self, *, seller_id: str | None, admin: bool = False, ttl_s: int = 30 * 86400) -> str:
        """Create a key and return it (shown once). Raises ValueError on a bad seller id or TTL."""
        if seller_id is None and not admin:
            raise ValueError("a key needs a seller id unless it is an admin key")
        if seller_id is not None and not re.fullmatch(ID_PATTERN, seller_id):
            raise ValueError(f"seller id must match {ID_PATTERN}, got {seller_id!r}")
        if ttl_s < 1:
            raise ValueError(f"ttl must be >= 1 second, got {ttl_s}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        meta = {"seller_id": seller_id, "admin": admin, "created": time.time()}
        self._r.set(self._key(_digest(key)), json.dumps(meta), ex=ttl_s)
        return key

    def verify(self, key: str) -> Principal | None:
        """The principal of a valid, unexpired key; None for anything else."""
        if not key or len(key) > MAX_KEY_CHARS:
            return None
        digest = _digest(key)
        if self._admin_key and hmac.compare_digest(key, self._admin_key):
            return Principal(seller_id=None, admin=True, key_id=f"admin:{digest[:8]}")
        raw = self._r.get(self._key(digest))
        if raw is None:
            return None
        meta = json.loads(raw)  # type: ignore[arg-type]
        return Principal(
            seller_id=meta.get("seller_id"), admin=bool(meta.get("admin")), key_id=digest[:12]
        )

    def revoke(self, key: str) -> bool:
        return bool(self._r.delete(self._key(_digest(key))))
