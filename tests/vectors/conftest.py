"""The vector stores under test: Milvus Lite behind our server child (as in production's
default) and a real Milvus standalone server (2.3: the split layout), one server of each
per session and a fresh collection per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipeline.local.milvus import local_milvus
from pipeline.local.services import LocalService
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.vectors.milvus_schema import choose_index

# (fixture serving it, lite, layout): every layout we keep, on every server it runs on.
STORES = {
    "lite-combined": ("milvus_service", True, "auto"),
    "lite-split": ("milvus_service", True, "split"),
    "server-split": ("milvus_standalone", False, "auto"),
}


@pytest.fixture(scope="session")
def milvus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    service = local_milvus(tmp_path_factory.mktemp("milvus-data"))
    service.ensure()
    yield service
    service.close()


def open_store(
    request: pytest.FixtureRequest, kind: str, collection: str | None = None
) -> MilvusVectorStore:
    fixture, lite, layout = STORES[kind]
    service: LocalService = request.getfixturevalue(fixture)
    return MilvusVectorStore(
        f"http://127.0.0.1:{service.port}",
        collection=collection or f"t_{uuid.uuid4().hex[:12]}",
        index=choose_index("AUTO", lite=lite),
        lite=lite,
        layout=layout,
        upsert_batch=7,  # small, so the tests cross batch boundaries
        timeout=30,
    )


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> Iterator[MilvusVectorStore]:
    """Every VectorStore implementation and layout, on a fresh collection (the server
    ones are started only when a selected test asks for them)."""
    vector_store = open_store(request, request.param)
    yield vector_store
    vector_store.drop()
    vector_store.close()
