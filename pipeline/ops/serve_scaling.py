"""Ray Serve replica options from settings: fixed counts, or autoscaling on ongoing requests.

With ``OPS_SERVE_AUTOSCALING=true`` a deployment's replicas follow its ongoing requests
(Serve's own autoscaler: ``target_ongoing_requests`` per replica, between
``OPS_SERVE_MIN_REPLICAS`` and ``OPS_SERVE_MAX_REPLICAS``, starting from the fixed count);
else the fixed count (``API_INGRESS_REPLICAS``, ``API_ENCODER_REPLICAS``) holds.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import OpsSettings


def replica_options(ops: OpsSettings, fixed: int) -> dict[str, Any]:
    """Keyword arguments for ``serve.deployment``. Raises ConfigError when the minimum
    exceeds the maximum."""
    if not ops.serve_autoscaling:
        return {"num_replicas": fixed}
    if ops.serve_min_replicas > ops.serve_max_replicas:
        raise ConfigError(
            "OPS_SERVE_MIN_REPLICAS must not exceed OPS_SERVE_MAX_REPLICAS "
            f"(got {ops.serve_min_replicas} > {ops.serve_max_replicas})"
        )
    initial = min(ops.serve_max_replicas, max(ops.serve_min_replicas, fixed))
    return {
        "autoscaling_config": {
            "min_replicas": ops.serve_min_replicas,
            "initial_replicas": initial,
            "max_replicas": ops.serve_max_replicas,
            "target_ongoing_requests": ops.serve_target_ongoing_requests,
            # Up fast when requests pile up, down slowly: replicas load a model.
            "upscale_delay_s": 10.0,
            "downscale_delay_s": 300.0,
        }
    }
