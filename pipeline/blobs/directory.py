"""Blobs as files: ``<root>/<h[0:2]>/<h[2:4]>/<h>``, written to a temporary file and renamed.

Two levels of 256 directories keep every directory small (a million images is ~15 files
per leaf). The rename is atomic on one filesystem, so a reader sees a whole blob or none,
and a crash mid-write leaves only a stray file in ``<root>/tmp`` (cleared on start).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pipeline.blobs.base import BlobNotFound, check_digest, sha256_hex, verified
from pipeline.errors import BackendUnavailable


class DirectoryBlobStore:
    """A :class:`pipeline.blobs.BlobStore` in a local (or shared) directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            for stray in self._tmp.iterdir():  # left by a crash between write and rename
                with contextlib.suppress(OSError):
                    stray.unlink()
        except OSError as exc:
            raise BackendUnavailable(f"image store {root} is not writable: {exc}") from exc

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix=digest[:16])
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())  # the rename must not outlive the bytes
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise BackendUnavailable(f"image store {self.root}: cannot write: {exc}") from exc
        return digest

    def get(self, digest: str) -> bytes:
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no image {digest} in {self.root}") from None
        except OSError as exc:
            raise BackendUnavailable(f"image store {self.root}: cannot read: {exc}") from exc
        return verified(data, digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def close(self) -> None:
        pass
