"""Photo uploads to ``POST /v1/search/image``: made small and safe before the encoder sees them.

A 39 KB palette PNG of 6300x6300 pixels is within the scrape's pixel budget and cost
1.9 s of CPU and 640 MB to decode and convert; anyone may upload one ten times a second.
So uploads get their own, smaller budget (``UPLOAD_MAX_PIXELS``), checked on the header
before a pixel is decoded; JPEGs are decoded at reduced scale (libjpeg's DCT scaling);
every image is shrunk *before* its colours are converted (a palette image stays one byte
a pixel until it is small); and the work runs in a small thread pool, with a cap on the
decodes one client may have in flight and on how many may wait. What leaves here is a
small PNG that the query encoder decodes in microseconds.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageOps

from pipeline.errors import PermanentError
from pipeline.images import ImageLimits, ImageTooLarge, on_white, open_checked

UPLOAD_MAX_PIXELS = 24_000_000  # a 48 MP phone's 12 MP photo twice over; the scrape allows 40
UPLOAD_MAX_SIDE = 512  # the SigLIP towers take 224 or 384 pixels a side
UPLOAD_WORKERS = 2
UPLOADS_PER_CLIENT = 2
UPLOADS_WAITING = 16  # in flight and queued together, over all clients

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError)


class UploadBusy(Exception):
    """Too many uploads in flight: this client's, or everyone's (``scope`` says which)."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


def shrink_upload(
    data: bytes, max_bytes: int, max_pixels: int = UPLOAD_MAX_PIXELS, side: int = UPLOAD_MAX_SIDE
) -> bytes:
    """The upload as a PNG at most ``side`` pixels a side, RGB, orientation applied.

    Raises ImageTooLarge over the byte or pixel budget (from the header alone) and
    PermanentError for anything we cannot decode.
    """
    try:
        with open_checked(data, ImageLimits(max_bytes=max_bytes, max_pixels=max_pixels)) as src:
            if src.format in ("JPEG", "MPO"):
                src.draft("RGB", (side, side))  # decode at 1/2..1/8 scale where it can
            # First frame only; shrunk in its own mode (palette: nearest) before any convert.
            src.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
            small = ImageOps.exif_transpose(src)
            rgb = on_white(small)
    except PermanentError:
        raise
    except (Image.DecompressionBombError, *_DECODE_ERRORS) as exc:
        raise PermanentError(f"image is not a decodable image: {str(exc)[:200]}") from exc
    out = io.BytesIO()
    rgb.save(out, "PNG", compress_level=1)
    return out.getvalue()


class UploadShrinker:
    """Runs :func:`shrink_upload` in a bounded pool, a few at a time per client."""

    def __init__(
        self,
        max_bytes: int,
        *,
        workers: int = UPLOAD_WORKERS,
        per_client: int = UPLOADS_PER_CLIENT,
        waiting: int = UPLOADS_WAITING,
    ) -> None:
        self._max_bytes = max_bytes
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="upload-decode")
        self._per_client = per_client
        self._waiting = waiting
        self._clients: Counter[str] = Counter()

    async def shrink(self, client: str, data: bytes) -> bytes:
        """Raises UploadBusy past a cap, and as :func:`shrink_upload`."""
        if self._clients[client] >= self._per_client:
            raise UploadBusy("client")
        if sum(self._clients.values()) >= self._waiting:
            raise UploadBusy("server")
        self._clients[client] += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, shrink_upload, data, self._max_bytes)
        finally:
            self._clients[client] -= 1
            if self._clients[client] <= 0:
                del self._clients[client]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["ImageTooLarge", "UploadBusy", "UploadShrinker", "shrink_upload"]
