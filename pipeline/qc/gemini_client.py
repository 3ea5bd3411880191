"""One Gemini client (google-genai) for everything that asks Gemini: quality control and
the storefront's fallback reader. A request is text (and images) in, JSON under a
response schema out.

Retries belong to the ledger, not the SDK: the SDK's retry is off (``retry_options=None``)
so attempts do not multiply, and errors are translated: 429/5xx/408/timeouts ->
RetryableError (``delay`` from ``Retry-After`` or Gemini's ``RetryInfo`` when given),
other 4xx (bad request, invalid key) -> PermanentError, an unreachable host ->
BackendUnavailable. A Redis token bucket keeps all workers together under
``GEMINI_REQUESTS_PER_MINUTE``, whatever asks.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Protocol

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from pipeline.errors import BackendUnavailable, ConfigError, PermanentError, RetryableError
from pipeline.settings import GeminiSettings

# Waits up to this long for a rate-limit token in-process; longer waits go back to the ledger.
MAX_INLINE_WAIT_S = 2.0
_RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


class RateLimiter(Protocol):
    """What :class:`pipeline.ledger.ratelimit.RedisRateLimiter` offers."""

    def acquire(self, key: str, rate_per_s: float, burst: int, tokens: int = 1) -> float: ...


class GeminiClient:
    """``generate_content`` under the rate limit, with errors translated (see module)."""

    def __init__(self, cfg: GeminiSettings, *, limiter: RateLimiter) -> None:
        """Raises ConfigError when ``GEMINI_API_KEY`` is unset."""
        if cfg.api_key is None:
            raise ConfigError("GEMINI_API_KEY is required to call Gemini")
        self._api_key = cfg.api_key.get_secret_value()
        self.cfg = cfg
        self._limiter = limiter
        self._client: genai.Client | None = None
        self._http: tuple[httpx.Client, httpx.AsyncClient] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def model(self) -> str:
        return self.cfg.model

    def _genai(self) -> genai.Client:
        """The SDK client for the running event loop.

        Its HTTP clients are ours (httpx, so the SDK's aiohttp path with its deprecation
        warnings is unused, and we close them). An async HTTP client belongs to one event
        loop, so a caller that moves to a new loop (``asyncio.run`` per Ray task) gets a
        new client; the old one's connections died with their loop.
        """
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            timeout = httpx.Timeout(self.cfg.timeout, connect=min(10.0, self.cfg.timeout))
            self._http = (httpx.Client(timeout=timeout), httpx.AsyncClient(timeout=timeout))
            self._client = genai.Client(
                api_key=self._api_key,
                vertexai=False,
                http_options=types.HttpOptions(
                    base_url=str(self.cfg.base_url) if self.cfg.base_url else None,
                    api_version=self.cfg.api_version,
                    timeout=int(self.cfg.timeout * 1000),
                    retry_options=None,  # the ledger retries; see the module docstring
                    httpx_client=self._http[0],
                    httpx_async_client=self._http[1],
                ),
            )
            self._loop = loop
        return self._client

    async def generate(
        self, parts: list[types.Part], *, system: str, schema: Any
    ) -> types.GenerateContentResponse:
        """One request answered as JSON under ``schema`` (a pydantic model; the SDK puts
        the parsed answer in ``response.parsed``, None when it does not fit).

        Raises RetryableError / BackendUnavailable / PermanentError as the module says.
        """
        await self._take_token()
        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_schema=schema,
            temperature=0.0,
            candidate_count=1,
        )
        try:
            # The SDK has its own timeout; this bound also covers DNS, TLS and body reads.
            return await asyncio.wait_for(
                self._genai().aio.models.generate_content(
                    model=self.cfg.model,
                    contents=types.Content(role="user", parts=parts),
                    config=config,
                ),
                timeout=self.cfg.timeout + 5,
            )
        except genai_errors.APIError as exc:
            raise _translate(exc) from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise RetryableError(f"Gemini timed out after {self.cfg.timeout} s") from exc
        except (httpx.TransportError, OSError) as exc:
            raise BackendUnavailable(f"Gemini unreachable: {exc}") from exc
        except Exception as exc:  # aiohttp's errors, without importing aiohttp here
            if type(exc).__module__.startswith("aiohttp"):
                raise BackendUnavailable(f"Gemini unreachable: {exc!r}") from exc
            raise

    async def aclose(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            http[0].close()
            await http[1].aclose()

    async def _take_token(self) -> None:
        rate = self.cfg.requests_per_minute / 60.0
        key = f"gemini:{self.cfg.model}"
        waited = 0.0
        while True:
            wait = self._limiter.acquire(key, rate, self.cfg.burst)
            if wait == 0:
                return
            if waited + wait > MAX_INLINE_WAIT_S:
                raise RetryableError(
                    f"Gemini rate limit ({self.cfg.requests_per_minute}/min) reached", delay=wait
                )
            await asyncio.sleep(wait)
            waited += wait


def _translate(exc: genai_errors.APIError) -> Exception:
    code = exc.code
    detail = f"Gemini answered {code} {exc.status or ''}: {(exc.message or '')[:300]}"
    if code in (408, 429) or code >= 500:
        return RetryableError(detail, delay=_retry_after(exc))
    return PermanentError(detail)


def _retry_after(exc: genai_errors.APIError) -> float | None:
    """Seconds from the ``Retry-After`` header, else from a google.rpc.RetryInfo detail."""
    headers: Any = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP date: rare from Google, fall through to RetryInfo
    details = (
        exc.details.get("error", {}).get("details", []) if isinstance(exc.details, dict) else []
    )
    for detail in details if isinstance(details, list) else []:
        match = (
            _RETRY_DELAY.match(str(detail.get("retryDelay", "")))
            if isinstance(detail, dict)
            else None
        )
        if match:
            return float(match.group(1))
    return None


def block_reason(response: types.GenerateContentResponse) -> str | None:
    """Why the model refused to answer (a safety block), or None."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return str(feedback.block_reason.value)
    for candidate in response.candidates or []:
        reason = candidate.finish_reason
        if reason is not None and reason.value in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST"):
            return str(reason.value)
    return None
