"""Serve deployments' replica options from settings, validated by Ray Serve itself."""

from __future__ import annotations

import pytest
from ray import serve

from pipeline.errors import ConfigError
from pipeline.ops.serve_scaling import replica_options
from pipeline.settings import Settings
from serve.app import build_app_from


def test_fixed_replicas_by_default(settings: Settings) -> None:
    assert replica_options(settings.ops, 3) == {"num_replicas": 3}


def test_autoscaling_config_accepted_by_serve(settings: Settings) -> None:
    ops = settings.with_overrides(
        ops={"serve_autoscaling": True, "serve_min_replicas": 1, "serve_max_replicas": 6}
    ).ops
    options = replica_options(ops, 2)
    cfg = options["autoscaling_config"]
    assert (cfg["min_replicas"], cfg["initial_replicas"], cfg["max_replicas"]) == (1, 2, 6)
    assert cfg["target_ongoing_requests"] == 16.0

    @serve.deployment(**options)
    class Echo:
        def __call__(self) -> str:
            return "ok"

    applied = Echo._deployment_config.autoscaling_config  # Serve parsed and validated it
    assert applied.max_replicas == 6 and applied.target_ongoing_requests == 16.0


def test_initial_replicas_clamped(settings: Settings) -> None:
    ops = settings.with_overrides(ops={"serve_autoscaling": True, "serve_max_replicas": 4}).ops
    assert replica_options(ops, 10)["autoscaling_config"]["initial_replicas"] == 4


def test_min_above_max_refused(settings: Settings) -> None:
    ops = settings.with_overrides(
        ops={"serve_autoscaling": True, "serve_min_replicas": 5, "serve_max_replicas": 2}
    ).ops
    with pytest.raises(ConfigError, match="OPS_SERVE_MIN_REPLICAS"):
        replica_options(ops, 1)


def test_app_builds_with_autoscaling(settings: Settings) -> None:
    auto = settings.with_overrides(ops={"serve_autoscaling": True})
    ingress = build_app_from(auto, {})._bound_deployment
    assert ingress.name == "Api"
    assert ingress._deployment_config.autoscaling_config.max_replicas == 8
    fixed = build_app_from(settings, {"ingress_replicas": "3"})._bound_deployment
    assert fixed._deployment_config.autoscaling_config is None
    assert fixed.num_replicas == 3
