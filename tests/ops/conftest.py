"""Fixtures of the operations tests: the API app (real Redis, Milvus Lite, tantivy, the
tiny SigLIP model) driven in-process and served over loopback HTTP for Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.factory import open_keyword_index
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from serve.app import build_deps, create_api
from serve.deps import ApiDeps

ADMIN = "ops-admin-key-0123456789"


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
    return Settings.defaults().with_overrides(
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
