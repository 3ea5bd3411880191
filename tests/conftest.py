"""Shared fixtures: a real ``redis-server`` and one Ray runtime per test session, on loopback.

Tests never use a service the machine happens to run: each starts its own on a free port
and stops it at the end.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.local.redis import local_redis
from pipeline.local.services import LocalService
from pipeline.settings import Settings, environment_names

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shuffle-modules",
        metavar="SEED",
        default=None,
        help="run the test modules in an order shuffled by SEED (tests keep their order "
        "inside a module): proves modules do not depend on each other",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption("--shuffle-modules")
    return f"modules shuffled with seed {seed}" if seed is not None else None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Name the seed again at the end, where a failed run is read (``-q`` hides the header)."""
    seed = config.getoption("--shuffle-modules")
    if seed is not None and exitstatus != 0:
        terminalreporter.write_line(
            f"modules were shuffled with seed {seed}: rerun this order with "
            f"--shuffle-modules {seed} (TEST_SHUFFLE_SEED={seed} scripts/test.sh)"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("--shuffle-modules")
    if seed is None:
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    order = list(modules)
    random.Random(seed).shuffle(order)
    items[:] = [item for name in order for item in modules[name]]


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read the caller's settings: a MILVUS_URI or GEMINI_API_KEY in the shell
    must not change what runs. Removed before anything starts (Ray workers, CLI runs and
    subprocesses inherit this environment); tests set what they need explicitly."""
    for name in environment_names():
        os.environ.pop(name, None)


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
    return Settings.defaults().with_overrides(
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


@pytest.fixture(scope="session")
def milvus_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """One Milvus standalone server (2.3, from the ``milvus`` wheel) for the session,
    started by the first test that asks (a few seconds, ~300 MB) and stopped with its
    whole process group at the end, whatever the tests did."""
    from pipeline.local.milvus_standalone import local_milvus_standalone

    service = local_milvus_standalone(tmp_path_factory.mktemp("milvus-standalone"))
    try:
        service.ensure()
        yield service
    finally:
        service.close()
