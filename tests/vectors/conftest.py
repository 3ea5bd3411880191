"""One ``milvus-lite server`` child for the session (as in production), a collection per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipeline.local.milvus import local_milvus
from pipeline.local.services import LocalService
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.vectors.milvus_schema import choose_index


@pytest.fixture(scope="session")
def milvus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    service = local_milvus(tmp_path_factory.mktemp("milvus-data"))
    service.ensure()
    yield service
    service.close()


@pytest.fixture(params=["milvus-lite"])
def store(
    request: pytest.FixtureRequest, milvus_service: LocalService
) -> Iterator[MilvusVectorStore]:
    """Every VectorStore implementation, on a fresh collection (only Milvus exists today;
    a Milvus server is the same class with another URI)."""
    collection = f"t_{uuid.uuid4().hex[:12]}"
    vector_store = MilvusVectorStore(
        f"http://127.0.0.1:{milvus_service.port}",
        collection=collection,
        index=choose_index("AUTO", lite=True),
        lite=True,
        upsert_batch=7,  # small, so the tests cross batch boundaries
        timeout=30,
    )
    yield vector_store
    vector_store.drop()
    vector_store.close()
