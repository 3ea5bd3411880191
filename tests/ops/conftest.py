"""Fixtures of the operations tests: the API app (real Redis, Milvus Lite, tantivy, the
tiny SigLIP model) driven in-process and served over loopback HTTP for Chromium."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.factory import open_keyword_index
from pipeline.local.services import free_port
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from serve.encoder import EmbedderQueryEncoder

ADMIN = "ops-admin-key-0123456789"
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@dataclass
class OpsApi:
    app: FastAPI
    client: httpx.AsyncClient
    deps: ApiDeps
    runner: asyncio.Runner

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.runner.run(self.client.request(method, url, **kwargs))


@pytest.fixture(scope="module")
def ops_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    return Settings().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("ops-data")},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
        api={"admin_key": ADMIN, "rate_limit_per_minute": 6000},
        ops={"sample_interval_s": 0.05},
    )


@pytest.fixture(scope="module")
def ops_api(ops_settings: Settings) -> Iterator[OpsApi]:
    with asyncio.Runner() as runner:
        writer = open_keyword_index(ops_settings, writable=True)  # creates the index
        embedder = LocalSiglipEmbedder.from_settings(ops_settings)
        deps = build_deps(ops_settings, EmbedderQueryEncoder(embedder), Runtime(ops_settings))
        app = create_api(deps)

        async def make_client() -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app)
            return httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=30)

        client = runner.run(make_client())
        yield OpsApi(app, client, deps, runner)
        runner.run(client.aclose())
        runner.run(deps.aclose())
        runner.run(embedder.aclose())
        writer.close()


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


class ThreadedUvicorn:
    """The app over real HTTP on loopback, in a thread of the test process. Its lifespan
    closes the app's dependencies on uvicorn's own loop (their async clients live there)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none",
            access_log=False, lifespan="on", loop="asyncio",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedUvicorn:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
