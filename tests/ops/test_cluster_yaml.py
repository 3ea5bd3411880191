"""cluster.yaml passes Ray's own launcher schema check; broken copies are refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"


@pytest.fixture
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CLUSTER_YAML.read_text())
    return loaded


def test_cluster_yaml_validates(config: dict[str, Any]) -> None:
    validate_config(config)
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    types = prepared["available_node_types"]
    assert set(types) == {"head", "cpu_worker", "gpu_worker"}
    assert prepared["head_node_type"] == "head"
    # Resources are declared per type, so the autoscaler never has to guess them.
    assert types["gpu_worker"]["resources"]["GPU"] == 1
    assert types["cpu_worker"]["resources"]["CPU"] >= 8
    assert "GPU" not in types["cpu_worker"]["resources"]
    for name in ("cpu_worker", "gpu_worker"):
        assert 0 <= types[name]["min_workers"] <= types[name]["max_workers"]
    assert prepared["idle_timeout_minutes"] > 0
    assert any("pip install -e ." in cmd for cmd in prepared["setup_commands"])
    assert any("catalog-sync worker" in cmd for cmd in prepared["head_start_ray_commands"])
    assert any("--address" in cmd for cmd in prepared["worker_start_ray_commands"])


def _drop_node_config(c: dict[str, Any]) -> None:
    del c["available_node_types"]["gpu_worker"]["node_config"]


def _bad_type(c: dict[str, Any]) -> None:
    c["available_node_types"]["cpu_worker"]["max_workers"] = "many"


def _unknown_key(c: dict[str, Any]) -> None:
    c["idle_timeout"] = 10  # the real key is idle_timeout_minutes


def _no_provider(c: dict[str, Any]) -> None:
    del c["provider"]


@pytest.mark.parametrize("breaks", [_drop_node_config, _bad_type, _unknown_key, _no_provider])
def test_broken_copy_rejected(config: dict[str, Any], breaks: Any) -> None:
    broken = copy.deepcopy(config)
    breaks(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate_config(broken)


def test_head_type_must_exist(config: dict[str, Any]) -> None:
    broken = copy.deepcopy(config)
    broken["head_node_type"] = "nonexistent"
    with pytest.raises(ValueError, match="head_node_type"):
        validate_config(broken)
