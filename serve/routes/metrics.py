"""``GET /metrics`` (Prometheus text format) and the search-timing middleware.

``install_ops(app, deps)`` wires operations into an API app: this router, the dashboard's
routes, a registry with the ledger collector and the search metrics, and a pure ASGI
middleware that times every ``/v1/search`` request and reads its ``cached`` flag (it sees
the response as the client does, so the search code needs no hook). ``/metrics`` needs the
admin key: the ledger's per-seller series are not public (Prometheus sends it with
``authorization: {credentials_file: ...}``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.ops.metrics import SearchMetrics, api_registry
from pipeline.ops.timeseries import LedgerSampler, SearchTimings
from serve.deps import ApiDeps
from serve.guards import require_admin

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])

MAX_TIMED_BODY = 256 * 1024  # search bodies are small; past this the cache flag is unread


@dataclass
class OpsState:
    registry: CollectorRegistry
    search: SearchMetrics
    timings: SearchTimings
    sampler: LedgerSampler


def ops_state(request: Request) -> OpsState:
    state: OpsState = request.app.state.ops
    return state


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """This replica's view: the ledger (cluster-wide), search timings, and whatever the
    process's default registry holds (a worker running in this process, Python/process)."""
    deps: ApiDeps = request.app.state.deps
    require_admin(request, deps.keys)
    state = ops_state(request)
    body = await asyncio.to_thread(
        lambda: generate_latest(state.registry) + generate_latest(REGISTRY)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class SearchTimingMiddleware:
    """Times ``/v1/search`` requests answered 200; records kind, latency and cache hit."""

    def __init__(self, app: ASGIApp, state: OpsState, deps: ApiDeps) -> None:
        self.app = app
        self._state = state
        self._deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/v1/search"):
            await self.app(scope, receive, send)
            return
        kind = "image" if path.endswith("/image") else "text"
        started = time.perf_counter()
        status = 0
        body = bytearray()

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) <= MAX_TIMED_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, timed_send)
        if status != 200:
            return
        seconds = time.perf_counter() - started
        cached = _cached_flag(bytes(body))
        self._state.search.observe(kind, seconds, cached)
        await self._state.timings.record(self._deps.aredis, kind, seconds * 1000, cached)


def _cached_flag(body: bytes) -> bool:
    if len(body) > MAX_TIMED_BODY:
        return False
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("cached") is True


def install_ops(app: FastAPI, deps: ApiDeps) -> None:
    """Add ``/metrics``, the dashboard and search timing to an API app."""
    from serve.routes import dashboard

    registry, search = api_registry(deps.ledger, deps.redis)
    ops = deps.settings.ops
    state = OpsState(
        registry=registry,
        search=search,
        timings=SearchTimings(deps.ledger.keys),
        sampler=LedgerSampler(
            deps.ledger, deps.redis, interval_s=ops.sample_interval_s, keep=ops.samples_keep
        ),
    )
    app.state.ops = state
    app.add_middleware(SearchTimingMiddleware, state=state, deps=deps)
    app.include_router(router)
    app.include_router(dashboard.router)
