"""The one HTTP fetcher for pages, API calls and images, behind the SSRF guard.

Every hop of a redirect chain is checked by :class:`UrlGuard` and the connection goes to
an address the guard checked (:mod:`pipeline.fetch.pinning`), so a name cannot resolve
to a public address for the check and to a private one for the connection. Bodies are read
as a stream and cut off at a size limit; each hop has a deadline; each host has a
concurrency and rate budget; the user agent names the project.

Errors, so the ledger can act on them: a refused URL raises UnsafeURLError; 4xx other
than 408/425/429 raise :class:`HttpStatusError` (a PermanentError); 408/425/429 raise a
RetryableError and 5xx, timeouts and connection failures raise BackendUnavailable, both
with ``Retry-After`` as their delay when the server sent one.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from pipeline.blobs.base import BlobStore
from pipeline.errors import BackendUnavailable, PermanentError, RetryableError, UnsafeURLError
from pipeline.fetch.guard import CheckedURL, UrlGuard
from pipeline.fetch.limits import HostLimiter
from pipeline.fetch.pinning import PinnedBackend, PinnedTransport
from pipeline.images import IMAGE_ACCEPT, ImageLimits, check_image
from pipeline.settings import CatalogSettings

logger = logging.getLogger(__name__)

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_4XX = frozenset({408, 425, 429})
# Headers that must not follow a redirect to another host.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


class HttpStatusError(PermanentError):
    """The server answered with a final 4xx status: no retry will change it."""

    def __init__(self, message: str, *, status: int, url: str, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.body = body


@dataclass(frozen=True)
class FetchResult:
    """A response that passed every check. ``final_url`` is the last hop's URL."""

    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none or unknown)."""
        charset = "utf-8"
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON. Raises PermanentError when it is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise PermanentError(f"{self.final_url[:200]} did not return JSON: {exc}") from exc


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), capped at one hour."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 3600.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    delta = when.timestamp() - (now if now is not None else time.time())
    return min(max(delta, 0.0), 3600.0)


def request_url(checked: CheckedURL) -> str:
    """The URL as httpx will see it: the host as the guard normalized it (the canonical
    address for an IP literal), so the pinned connection is found under the same name."""
    parts = urlsplit(checked.url)
    host = checked.connect_host
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(
        (checked.scheme, f"{host}:{checked.port}", parts.path or "/", parts.query, "")
    )


class SafeFetcher:
    """Fetches http(s) URLs from strangers safely. One per event loop; close with :meth:`aclose`.

    ``async with SafeFetcher(settings.catalog) as fetcher: await fetcher.fetch(url)``
    """

    def __init__(
        self,
        catalog: CatalogSettings,
        *,
        guard: UrlGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
        images: BlobStore | None = None,
    ) -> None:
        """``ssl_context`` replaces the default trust store (a private CA, tests);
        ``images`` is where :meth:`fetch_image` keeps what it verified."""
        self.catalog = catalog
        self.images = images
        self.guard = guard or UrlGuard(catalog.allowed_hosts)
        self._image_limits = ImageLimits.from_settings(catalog)
        self.limiter = HostLimiter(catalog.per_host_concurrency, catalog.per_host_rate)
        timeout = httpx.Timeout(catalog.fetch_timeout)
        self._backend = PinnedBackend()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        # trust_env=False: a proxy from the environment would connect on our behalf and
        # defeat the address pinning.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
            transport=PinnedTransport(self._backend, limits, ssl_context),
            headers={"User-Agent": catalog.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    async def __aenter__(self) -> SafeFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        accept: str | None = None,
        headers: dict[str, str] | None = None,
        raise_for_status: bool = True,
    ) -> FetchResult:
        """GET ``url``, following up to ``max_redirects`` redirects, each hop checked.

        ``max_bytes`` defaults to the page limit. With ``raise_for_status=False`` a final
        4xx/5xx is returned instead of raised (API clients read their error bodies).
        Raises as described in the module docstring; PermanentError for a body over the
        limit or a redirect chain that is too long or broken.
        """
        limit = max_bytes if max_bytes is not None else self.catalog.max_page_bytes
        request_headers = dict(headers or {})
        if accept:
            request_headers["Accept"] = accept
        current = url
        first_host: str | None = None
        for _hop in range(self.catalog.max_redirects + 1):
            checked = await self.guard.check(current)
            if first_host is None:
                first_host = checked.host_key
            elif checked.host_key != first_host:
                for name in list(request_headers):
                    if name.lower() in _CREDENTIAL_HEADERS:
                        del request_headers[name]
            result = await self._fetch_once(checked, request_headers, limit)
            location = result.headers.get("location")
            if result.status in REDIRECT_CODES and location:
                current = urljoin(checked.url, location.strip())
                logger.debug("redirect %s -> %s", checked.url[:200], current[:200])
                continue
            if raise_for_status:
                self._raise_for_status(result)
            return result
        raise PermanentError(f"{url[:200]} redirected more than {self.catalog.max_redirects} times")

    async def fetch_image(self, url: str) -> bytes:
        """Download an image: the image size limit, then the decode every stage will do
        (:func:`pipeline.images.check_image`); then, with an image store, keep the bytes
        under their SHA-256 so no stage has to download them again.

        Raises PermanentError (or its UnsafeURLError) when the bytes are not an image we
        accept or exceed the limits, BackendUnavailable when the image store cannot be
        written; otherwise like :meth:`fetch`.
        """
        result = await self.fetch(url, max_bytes=self.catalog.max_image_bytes, accept=IMAGE_ACCEPT)
        try:
            await asyncio.to_thread(check_image, result.content, self._image_limits)
        except PermanentError as exc:
            raise PermanentError(f"{url[:200]}: {exc}") from exc
        if self.images is not None:
            await asyncio.to_thread(self.images.put, result.content)
        return result.content

    async def _fetch_once(
        self, checked: CheckedURL, headers: dict[str, str], limit: int
    ) -> FetchResult:
        self._backend.pin(checked)
        request = self._client.build_request("GET", request_url(checked), headers=headers)
        async with self.limiter.slot(checked.host_key):
            try:
                # One deadline for the whole hop: a server dripping bytes cannot hold us.
                async with asyncio.timeout(self.catalog.fetch_timeout):
                    return await self._send(request, checked.url, limit)
            except TimeoutError as exc:
                raise BackendUnavailable(
                    f"{checked.url[:200]} took longer than {self.catalog.fetch_timeout}s"
                ) from exc
            except httpx.TimeoutException as exc:
                raise BackendUnavailable(f"{checked.url[:200]} timed out: {exc!r}") from exc
            except httpx.TransportError as exc:
                raise BackendUnavailable(f"{checked.url[:200]} unreachable: {exc!r}") from exc

    async def _send(self, request: httpx.Request, url: str, limit: int) -> FetchResult:
        response = await self._client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise UnsafeURLError(
                    f"{url[:200]} is {declared} bytes, over the limit of {limit} bytes"
                )
            chunks: list[bytes] = []
            size = 0
            if response.status_code not in REDIRECT_CODES:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise UnsafeURLError(f"{url[:200]} is over the limit of {limit} bytes")
                    chunks.append(chunk)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return FetchResult(url, response.status_code, headers, b"".join(chunks))
        except httpx.DecodingError as exc:
            raise PermanentError(f"{url[:200]} sent a body that does not decode: {exc}") from exc
        finally:
            await response.aclose()

    @staticmethod
    def _raise_for_status(result: FetchResult) -> None:
        status = result.status
        if status < 400:
            if 300 <= status < 400:
                raise PermanentError(f"{result.final_url[:200]} redirected ({status}) nowhere")
            return
        delay = retry_after_seconds(result.headers.get("retry-after"))
        where = result.final_url[:200]
        if status in RETRYABLE_4XX:
            raise RetryableError(f"{where} answered {status}; try later", delay=delay)
        if status >= 500:
            raise BackendUnavailable(f"{where} answered {status}", delay=delay)
        raise HttpStatusError(
            f"{where} answered {status}",
            status=status,
            url=result.final_url,
            body=result.content[:4096],
        )
