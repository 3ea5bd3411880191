"""Shared fixtures: a real ``redis-server`` and one Ray runtime per test session, on loopback.

Tests never use a service the machine happens to run: each starts its own on a free port
and stops it at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.local.redis import local_redis
from pipeline.local.services import LocalService
from pipeline.settings import Settings

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """One ``redis-server`` (append-only) for the session, in its own directory."""
    service = local_redis(tmp_path_factory.mktemp("redis-data"))
    service.ensure()
    yield service
    service.close()


@pytest.fixture(scope="session")
def redis_url(redis_service: LocalService) -> str:
    return f"redis://127.0.0.1:{redis_service.port}/0"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied database: each test starts from nothing."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    """Settings for one test: its own data dir, the session's Redis, the tiny model."""
    return Settings().with_overrides(
        core={"data_dir": tmp_path / "data"},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
        catalog={"allowed_hosts": ("127.0.0.1", "localhost")},
    )


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """One shared local Ray for the whole session (starting Ray costs seconds)."""
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
    )
    yield ray
    ray.shutdown()
