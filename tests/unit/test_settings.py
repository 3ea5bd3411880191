from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import SiglipDevice, load_settings, split_host_port

SEED_VARS = ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_URL", "JOB_CONCURRENCY",
             "JOB_TIMEOUT", "MILVUS_URI", "ELASTICSEARCH_URL", "GEMINI_API_KEY", "SIGLIP_MODEL",
             "SIGLIP_PRETRAINED", "SIGLIP_CHECKPOINT", "RAY_ADDRESS", "CATALOG_ALLOWED_HOSTS",
             "DATA_DIR"]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SEED_VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_seed() -> None:
    s = load_settings()
    assert s.redis.port == 6379
    assert s.redis.host is None and s.redis.url is None and s.redis.embedded
    assert s.jobs.concurrency == 5
    assert s.jobs.timeout == 300
    assert s.jobs.max_attempts == 3
    assert s.data_dir == Path("./data")
    assert s.siglip.model == "ViT-B-16-SigLIP" and not s.siglip.is_tiny
    assert s.milvus.uri is None and s.elasticsearch.url is None and s.gemini.api_key is None
    assert s.catalog.allowed_hosts == ()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_PASSWORD", "s3cret")
    monkeypatch.setenv("JOB_CONCURRENCY", "12")
    monkeypatch.setenv("JOB_TIMEOUT", "45.5")
    monkeypatch.setenv("MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://es:9200")
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("SIGLIP_MODEL", "tiny")
    monkeypatch.setenv("SIGLIP_DEVICE", "cuda")
    monkeypatch.setenv("CATALOG_ALLOWED_HOSTS", "localhost:8080, 127.0.0.1 ,[::1]:9000")
    monkeypatch.setenv("DATA_DIR", "/tmp/x")
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    s = load_settings()
    assert s.redis.host == "cache.internal" and s.redis.port == 6380 and not s.redis.embedded
    assert s.redis.password is not None and s.redis.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)
    assert s.jobs.concurrency == 12 and s.jobs.timeout == 45.5
    assert str(s.milvus.uri) == "http://milvus:19530/"
    assert s.siglip.is_tiny and s.siglip.device is SiglipDevice.CUDA
    assert s.catalog.allowed_hosts == ("localhost:8080", "127.0.0.1", "[::1]:9000")
    assert s.data_dir == Path("/tmp/x")
    assert s.ray.address == "ray://head:10001"


@pytest.mark.parametrize(
    ("var", "value", "rule"),
    [
        ("REDIS_PORT", "abc", "valid integer"),
        ("REDIS_PORT", "70000", "less than or equal to 65535"),
        ("REDIS_URL", "http://x", "redis://"),
        ("JOB_CONCURRENCY", "0", "greater than or equal to 1"),
        ("JOB_TIMEOUT", "-1", "greater than 0"),
        ("MILVUS_URI", "not a url", "URL"),
        ("ELASTICSEARCH_URL", "ftp//x", "URL"),
        ("SIGLIP_DEVICE", "tpu", "auto"),
        ("CATALOG_ALLOWED_HOSTS", "bad host!", "host[:port]"),
        ("CATALOG_ALLOWED_HOSTS", "localhost:99999", "port"),
        ("LOG_LEVEL", "LOUD", "pattern"),
    ],
)
def test_invalid_values_name_the_variable_and_rule(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, rule: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert var in str(info.value)
    assert rule in str(info.value)


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://user:hunter2@x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("localhost", ("localhost", None)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("::1", ("::1", None)),
    ],
)
def test_split_host_port(entry: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(entry) == expected


def test_environment_round_trips_through_load_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a parent hands its worker processes: the child loads the very same settings."""
    from pipeline.settings import Settings
    from pipeline.settings_doc import env_vars

    for name, _ in env_vars():
        monkeypatch.delenv(name, raising=False)
    wanted = Settings.defaults().with_overrides(
        core={"data_dir": Path("/tmp/x"), "log_json": True},
        redis={"url": "redis://:pw@127.0.0.1:7000/2"},
        jobs={"timeout": 12.5, "concurrency": 9},
        milvus={"uri": "http://milvus:19530"},
        gemini={"api_key": "k"},
        siglip={"model": "tiny", "device": "cuda", "cpus_per_replica": 0.25},
        catalog={"allowed_hosts": ("localhost:8080", "[::1]:9000")},
    )
    env = wanted.environment()
    assert env["REDIS_URL"] == "redis://:pw@127.0.0.1:7000/2" and env["LOG_JSON"] == "true"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == wanted
