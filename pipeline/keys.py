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
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from pipeline.records import ID_PATTERN
from pipeline.redis_keys import RedisKeys

KEY_PREFIX = "csk_"
MAX_KEY_CHARS = 200
KEY_ID_CHARS = 12  # the digest prefix shown as a key's id (never the key itself)
_KEY_ID_RE = re.compile(r"[0-9a-f]{6,64}")


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys list`` shows of a key: its id (a digest prefix), never the secret."""

    key_id: str
    seller_id: str | None
    admin: bool
    created: float
    expires_at: float | None  # None: Redis holds it without an expiry


@dataclass(frozen=True)
class Principal:
    seller_id: str | None
    admin: bool
    key_id: str  # a short, non-secret name for logs and rate limits

    def may_act_for(self, seller_id: str) -> bool:
        return self.admin or self.seller_id == seller_id


def _digest_bytes(key: str) -> bytes:
    # surrogatepass: a header decoded as latin-1 never holds a surrogate, but a key typed
    # into Python may; either way the caller gets "no such key", never an exception.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _digest(key: str) -> str:
    return _digest_bytes(key).hex()


class ApiKeyStore:
    def __init__(self, client: redis.Redis, keys: RedisKeys, admin_key: str | None = None) -> None:
        self._r = client
        # Compared as fixed-length digests in bytes: compare_digest refuses a str with
        # non-ASCII characters (a 500 for any such bearer token), and equal lengths leak
        # nothing about the key's length.
        self._admin_digest = _digest_bytes(admin_key) if admin_key else None
        self._keys = keys

    def _key(self, digest: str) -> str:
        return self._keys.api_key(digest)

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
        raw_digest = _digest_bytes(key)
        digest = raw_digest.hex()
        if self._admin_digest is not None and hmac.compare_digest(raw_digest, self._admin_digest):
            return Principal(seller_id=None, admin=True, key_id=f"admin:{digest[:8]}")
        raw = self._r.get(self._key(digest))
        if raw is None:
            return None
        meta = json.loads(raw)  # type: ignore[arg-type]
        return Principal(
            seller_id=meta.get("seller_id"),
            admin=bool(meta.get("admin")),
            key_id=digest[:KEY_ID_CHARS],
        )

    def _entries(self, id_prefix: str = "") -> Iterator[str]:
        # Digests are hex, so a validated id prefix holds no glob characters.
        yield from (
            k.decode() if isinstance(k, bytes) else str(k)
            for k in self._r.scan_iter(match=self._key(id_prefix + "*"), count=500)
        )

    def list(self) -> list[KeyInfo]:
        """Every stored key, oldest first (the ``API_ADMIN_KEY`` setting is not stored)."""
        now = time.time()
        infos = []
        for name in self._entries():
            raw, ttl_ms = self._r.get(name), self._r.pttl(name)
            if raw is None:  # expired between the scan and the read
                continue
            meta = json.loads(raw)  # type: ignore[arg-type]
            infos.append(
                KeyInfo(
                    key_id=name.rsplit(":", 1)[1][:KEY_ID_CHARS],
                    seller_id=meta.get("seller_id"),
                    admin=bool(meta.get("admin")),
                    created=float(meta.get("created", 0.0)),
                    expires_at=now + int(ttl_ms) / 1000 if int(ttl_ms) >= 0 else None,  # type: ignore[arg-type]
                )
            )
        return sorted(infos, key=lambda info: info.created)

    def revoke_id(self, key_id: str) -> bool:
        """Revoke the one key whose id starts with ``key_id``; False when none matches.

        Raises ValueError for an id that is not hex or matches more than one key.
        """
        key_id = key_id.strip().lower()
        if not _KEY_ID_RE.fullmatch(key_id):
            raise ValueError(f"a key id is 6-64 hex characters (see 'keys list'), got {key_id!r}")
        matches = list(self._entries(key_id))
        if len(matches) > 1:
            raise ValueError(f"key id {key_id!r} matches {len(matches)} keys: give more characters")
        return bool(matches) and bool(self._r.delete(matches[0]))

    def revoke(self, key: str) -> bool:
        return bool(self._r.delete(self._key(_digest(key))))
