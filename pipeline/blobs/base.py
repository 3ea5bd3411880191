"""The blob store protocol: bytes in, their SHA-256 out; the same bytes back by that hash.

Content addressing is what makes "stored once" safe: a hash names exactly one byte string,
so a seller who swaps the photo behind a URL gets a new hash (and a new check), and the
bytes read back for embedding, QC and thumbnails are the ones the scrape verified (every
``get`` re-hashes what it read).
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

from pipeline.errors import PermanentError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(PermanentError):
    """No blob with that hash in the store."""


class BlobStore(Protocol):
    """Content-addressed storage. Implementations are thread-safe (stages call them from
    ``asyncio.to_thread``)."""

    def put(self, data: bytes) -> str:
        """Store ``data`` (a no-op when it is already there); return its SHA-256 (hex).
        Raises BackendUnavailable when the store cannot be written."""
        ...

    def get(self, digest: str) -> bytes:
        """The bytes whose SHA-256 is ``digest``. Raises BlobNotFound when there are none
        (or what is stored does not hash to ``digest``), ValueError for a malformed
        digest, BackendUnavailable when the store cannot be read."""
        ...

    def has(self, digest: str) -> bool:
        """Whether ``digest`` is stored. Raises as :meth:`get`."""
        ...

    def close(self) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` if it is 64 lower-case hex characters; ValueError otherwise (it becomes a
    path or an object key, so nothing else may pass)."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"a blob digest is 64 lower-case hex characters, got {digest!r:.80}")
    return digest


def verified(data: bytes, digest: str) -> bytes:
    """``data`` if it hashes to ``digest``; BlobNotFound otherwise (a torn or altered blob
    is as good as none)."""
    actual = sha256_hex(data)
    if actual != digest:
        raise BlobNotFound(f"blob {digest} is corrupt: its bytes hash to {actual}")
    return data
