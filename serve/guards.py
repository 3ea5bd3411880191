"""Request guards: size limits, rate limits and bearer-key auth.

Limits apply before any route runs, so an oversize body or a flood costs us a few
microseconds, not a parse. Every 4xx carries a short JSON ``detail``, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, Response

from pipeline.keys import ApiKeyStore, Principal

logger = logging.getLogger(__name__)

MAX_QUERY_STRING = 4096
MAX_JSON_BODY = 64 * 1024
MAX_UPLOAD_BODY = 12 * 1024 * 1024  # a phone photo, with multipart overhead

ASSET_PREFIXES = ("/v1/thumbnails/", "/search/assets/")
ASSET_BUCKET = "assets:"
ASSET_RATE_FACTOR = 10

RateCheck = Callable[[str], Awaitable[float]]  # bucket key -> seconds to wait (0: allowed)


def _reject(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class GuardMiddleware(BaseHTTPMiddleware):
    """Size limits first, then one token bucket per API key or client address."""

    def __init__(self, app: object, rate_check: RateCheck, keys: ApiKeyStore) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self._rate_check = rate_check
        self._keys = keys

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if len(request.url.query) > MAX_QUERY_STRING:
            return _reject(414, f"query string longer than {MAX_QUERY_STRING} bytes")
        limit = MAX_UPLOAD_BODY if request.url.path.endswith("/image") else MAX_JSON_BODY
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return _reject(400, "content-length must be a non-negative integer")
            if int(declared) > limit:
                return _reject(413, f"body larger than {limit} bytes")
        elif request.method in ("POST", "PUT", "PATCH") and "chunked" in request.headers.get(
            "transfer-encoding", ""
        ):
            return _reject(411, "a content-length is required")
        bucket = self._bucket(request)
        wait = await self._rate_check(bucket)
        if wait > 0:
            retry = str(max(1, int(wait + 0.999)))
            return _reject(429, "rate limit exceeded", {"Retry-After": retry})
        return await call_next(request)

    def _bucket(self, request: Request) -> str:
        """One bucket per key or address; page assets (a results page loads a dozen
        thumbnails) get a bucket of their own, so browsing does not starve searches."""
        principal = principal_of(request, self._keys)
        if principal is not None:
            who = f"key:{principal.key_id}"
        else:
            who = f"addr:{request.client.host if request.client else 'unknown'}"
        if request.url.path.startswith(ASSET_PREFIXES):
            return f"{ASSET_BUCKET}{who}"
        return who


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def principal_of(request: Request, keys: ApiKeyStore) -> Principal | None:
    """The caller's principal, looked up once per request and remembered on it."""
    if "principal" not in request.scope.get("state", {}):
        token = _bearer(request)
        request.state.principal = keys.verify(token) if token else None
    principal: Principal | None = request.state.principal
    return principal


def require_key(request: Request, keys: ApiKeyStore) -> Principal:
    principal = principal_of(request, keys)
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_seller(request: Request, keys: ApiKeyStore, seller_id: str) -> Principal:
    principal = require_key(request, keys)
    if not principal.may_act_for(seller_id):
        raise HTTPException(status_code=403, detail=f"this key may not act for seller {seller_id}")
    return principal


def require_admin(request: Request, keys: ApiKeyStore) -> Principal:
    principal = require_key(request, keys)
    if not principal.admin:
        raise HTTPException(status_code=403, detail="an admin key is required")
    return principal
