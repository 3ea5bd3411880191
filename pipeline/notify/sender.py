"""POSTs a signed webhook body to a seller's URL, behind the same SSRF guard and address
pinning as the catalog fetcher (:mod:`pipeline.fetch`): the URL is checked on every send
(DNS may have changed since registration) and the connection goes to the checked address.

Redirects are not followed (a webhook URL must answer itself); the response body is read
up to 4 KiB, for the error message only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from pipeline.errors import UnsafeURLError
from pipeline.fetch.fetcher import retry_after_seconds
from pipeline.fetch.guard import CheckedURL, UrlGuard
from pipeline.fetch.pinning import PinnedBackend, PinnedTransport
from pipeline.notify.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign
from pipeline.settings import CatalogSettings

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None  # None: no HTTP answer (refused, unreachable, timed out)
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False  # no retry can succeed (unsafe URL, 410 Gone)


class HttpWebhookSender:
    """One per event loop; close with :meth:`aclose`."""

    def __init__(self, catalog: CatalogSettings, timeout_s: float) -> None:
        self.guard = UrlGuard(catalog.allowed_hosts)
        self._timeout = timeout_s
        self._backend = PinnedBackend()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # a proxy would connect for us and defeat the pinning
            timeout=httpx.Timeout(timeout_s),
            transport=PinnedTransport(self._backend, limits, None),
            headers={"User-Agent": catalog.user_agent, "Content-Type": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, url: str, secret: str, event: str, delivery_id: str, body: bytes
    ) -> SendResult:
        """POST ``body`` signed with ``secret``. Never raises for a network or HTTP
        failure: the result says what happened and whether a retry may help."""
        try:
            checked = await self.guard.check(url)
        except UnsafeURLError as exc:
            return SendResult(False, None, f"refused: {exc}", permanent=True)
        except Exception as exc:  # DNS failure and the like: may pass later
            return SendResult(False, None, f"URL check failed: {exc}")
        self._backend.pin(checked)
        headers = {
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id,
        }
        request = self._client.build_request(
            "POST", _request_url(checked), headers=headers, content=body
        )
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.send(request, stream=True)
                try:
                    text = await _read_some(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return SendResult(False, None, f"timed out after {self._timeout} s")
        except httpx.TransportError as exc:
            return SendResult(False, None, f"unreachable: {exc!r}"[:300])
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(True, status)
        delay = retry_after_seconds(response.headers.get("retry-after"))
        return SendResult(
            False, status, f"answered {status}: {text[:200]}", delay, permanent=status == 410
        )


async def _read_some(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace")


def _request_url(checked: CheckedURL) -> str:
    """The URL with the host as the guard normalized it, so the pinned connection is found."""
    parts = urlsplit(checked.url)
    host = checked.connect_host
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(
        (checked.scheme, f"{host}:{checked.port}", parts.path or "/", parts.query, "")
    )
