"""The HTTP API: a FastAPI app, and the Ray Serve application that serves it.

``create_api(deps)`` builds the FastAPI app from its dependencies (the tests and the
in-process CLI use it directly); ``build_app(args)`` is the typed Serve app builder, so
``serve run serve.app:build_app`` and ``catalog-sync serve`` deploy the same thing: an
ingress deployment and a query-encoder deployment with ``@serve.batch``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve import Application

from pipeline.keys import ApiKeyStore
from pipeline.ledger import RedisLedger, RedisRateLimiter
from pipeline.ops.serve_scaling import replica_options
from pipeline.products import RedisProductStore
from pipeline.redact import redact_root_handlers
from pipeline.runtime import Runtime
from pipeline.search import QueryEncoder
from pipeline.search_setup import open_search_stores
from pipeline.settings import Settings, load_settings
from pipeline.syncs import url_checker
from serve.body_limit import BodyLimitMiddleware
from serve.deps import ApiDeps
from serve.encoder import HandleQueryEncoder, QueryEncoderDeployment
from serve.guards import GuardMiddleware, body_limit_for
from serve.routes import admin, dlq, docs, products, search, sellers, suggest, syncs, web
from serve.routes.metrics import install_ops

logger = logging.getLogger(__name__)


def create_api(deps: ApiDeps) -> FastAPI:
    """The FastAPI app over ready dependencies; closes them on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await deps.aclose()

    app = FastAPI(
        title="catalog-sync",
        version="0.1.0",
        description="Sync WhatsApp Business catalogs; search them by text and photo.",
        lifespan=lifespan,
        docs_url=None,  # our own /docs: pinned assets in a sandbox (serve/routes/docs.py)
        redoc_url=None,
    )
    app.state.deps = deps
    app.add_middleware(
        GuardMiddleware, rate_check=deps.rate_check, keys=deps.keys, addresses=deps.addresses
    )
    # Added last, so outermost: bytes are counted before rate limits, keys or parsers.
    app.add_middleware(
        BodyLimitMiddleware, limit_for=body_limit_for, timeout_s=deps.settings.api.body_timeout_s
    )
    for module in (search, suggest, syncs, products, admin, dlq, web, sellers, docs):
        app.include_router(module.router)
    install_ops(app, deps)  # GET /metrics, the dashboard at GET /, search timings

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:200]}
            for e in exc.errors()[:10]
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # Never a traceback to the caller: the log has it.
        logger.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


def build_deps(
    settings: Settings, encoder: QueryEncoder, runtime: Runtime | None = None
) -> ApiDeps:
    """Connect to Redis, the vector store and the keyword index (read-only) from settings."""
    runtime = runtime or Runtime(settings)
    client: redis.Redis = runtime.redis()
    vectors, keywords = open_search_stores(settings)
    closers: list[Callable[[], Any]] = [vectors.close, keywords.close, runtime.close]
    admin_key = settings.api.admin_key
    return ApiDeps(
        settings=settings,
        redis=client,
        aredis=aredis.Redis.from_url(runtime.redis_url()),
        ledger=RedisLedger(client, settings.jobs, keys=settings.redis.keys),
        products=RedisProductStore(client, settings.redis.keys),
        keys=ApiKeyStore(
            client, settings.redis.keys, admin_key.get_secret_value() if admin_key else None
        ),
        limiter=RedisRateLimiter(client, settings.redis.keys),
        vectors=vectors,
        keywords=keywords,
        encoder=encoder,
        check_url=url_checker(settings.catalog),
        closers=closers,
    )


def build_app(args: dict[str, str] | None = None) -> Application:
    """The Serve application. ``args`` (from ``serve run ... key=value``) may set
    ``encoder_replicas`` and ``ingress_replicas``; everything else comes from settings."""
    return build_app_from(load_settings(), args or {})


def build_app_from(settings: Settings, args: dict[str, str]) -> Application:
    """The Serve application for explicit settings (``build_app`` reads the environment)."""
    encoder = serve.deployment(
        name="QueryEncoder",
        **replica_options(
            settings.ops, int(args.get("encoder_replicas", settings.api.encoder_replicas))
        ),
        ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=64,  # >= the @serve.batch sizes, so batches can fill
    )(QueryEncoderDeployment)
    ingress = serve.deployment(
        name="Api",
        **replica_options(
            settings.ops, int(args.get("ingress_replicas", settings.api.ingress_replicas))
        ),
        ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=256,
    )(serve.ingress()(ApiIngress))
    app: Application = ingress.bind(settings, encoder.bind(settings))
    return app


class ApiIngress:
    """The ingress deployment: builds the FastAPI app in the replica, after its constructor,
    so Redis and Milvus connections are made there and never pickled."""

    def __init__(self, settings: Settings, encoder_handle: Any) -> None:
        self._settings = settings
        self._encoder_handle = encoder_handle

    def __serve_build_asgi_app__(self) -> FastAPI:
        redact_root_handlers()  # Ray configured this replica's logging, not our CLI
        return create_api(build_deps(self._settings, HandleQueryEncoder(self._encoder_handle)))
