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
from serve.client_address import ClientAddresses

logger = logging.getLogger(__name__)

MAX_QUERY_STRING = 4096
MAX_JSON_BODY = 64 * 1024
MAX_UPLOAD_BODY = 12 * 1024 * 1024  # a phone photo, with multipart overhead

ASSET_PREFIXES = ("/v1/thumbnails/", "/search/assets/")
ASSET_BUCKET = "assets:"
ASSET_RATE_FACTOR = 10

RateCheck = Callable[[str], Awaitable[float]]  # bucket key -> seconds to wait (0: allowed)


def body_limit_for(path: str) -> int:
    """The most body bytes a route takes (``serve.body_limit`` counts them as they come)."""
    return MAX_UPLOAD_BODY if path.endswith("/image") else MAX_JSON_BODY


def _reject(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class GuardMiddleware(BaseHTTPMiddleware):
    """The query-string limit, then one token bucket per API key or client address.
    (Bodies are limited outside it, by ``serve.body_limit.BodyLimitMiddleware``.)"""

    def __init__(
        self, app: object, rate_check: RateCheck, keys: ApiKeyStore, addresses: ClientAddresses
    ) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self._rate_check = rate_check
        self._keys = keys
        self._addresses = addresses

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if len(request.url.query) > MAX_QUERY_STRING:
            return _reject(414, f"query string longer than {MAX_QUERY_STRING} bytes")
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
            who = f"addr:{client_address(request, self._addresses)}"
        if request.url.path.startswith(ASSET_PREFIXES):
            return f"{ASSET_BUCKET}{who}"
        return who


def client_address(request: Request, addresses: ClientAddresses) -> str:
    """The caller's address (see ``serve.client_address``), resolved once per request."""
    if "client_address" not in request.scope.get("state", {}):
        request.state.client_address = addresses.of(request)
    address: str = request.state.client_address
    return address


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


def admin_only(request: Request) -> Principal:
    """``require_admin`` as a route dependency: it runs before the body and parameters
    are validated, so a caller without an admin key learns nothing from a 422."""
    return require_admin(request, request.app.state.deps.keys)
