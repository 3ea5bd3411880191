"""The alert rules of ``ops/alerts.yml``, evaluated in-process from the ledger.

Prometheus evaluates the YAML against the API's ``/metrics``; ``catalog-sync stats`` and
the dashboard evaluate the same four rules here, with the thresholds from ``OPS_ALERT_*``,
so an operator without Prometheus sees the same alerts. ``RULES`` names them; a test
checks that the YAML names the same ones.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import redis

from pipeline.ledger import RedisLedger
from pipeline.ops.ledgerview import finished_in_window
from pipeline.settings import OpsSettings

logger = logging.getLogger(__name__)

FAILURE_RATE = "JobFailureRateHigh"
QUEUE_DEPTH = "QueueDepthHigh"
NO_HEARTBEAT = "WorkerHeartbeatMissing"
REDIS_DOWN = "RedisUnreachable"
RULES = (FAILURE_RATE, QUEUE_DEPTH, NO_HEARTBEAT, REDIS_DOWN)
WINDOW_MINUTES = 10


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    severity: str  # warning | critical
    subject: str  # the job type, or "redis"
    message: str
    value: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    stats: Any, finished: dict[str, int], ops: OpsSettings, *, redis_ok: bool = True
) -> list[Alert]:
    """Alerts firing for ``stats`` (``LedgerStats``) and attempts finished per type in the
    window. ``redis_ok=False`` (the ledger unreadable) fires only ``RedisUnreachable``."""
    if not redis_ok:
        return [Alert(REDIS_DOWN, "critical", "redis", "Redis does not answer", 1.0, 0.0)]
    alerts: list[Alert] = []
    freshest: dict[str, float] = {}
    for consumer in stats.consumers:
        freshest[consumer.type] = min(consumer.age_s, freshest.get(consumer.type, consumer.age_s))
    for name, t in stats.types.items():
        ratio = t.failure_rate or 0.0
        volume = finished.get(name, 0)
        if ratio > ops.alert_failure_rate and volume >= ops.alert_min_finished:
            alerts.append(
                Alert(
                    FAILURE_RATE,
                    "warning",
                    name,
                    f"{ratio:.1%} of {volume} {name} attempts failed in {WINDOW_MINUTES} min",
                    ratio,
                    ops.alert_failure_rate,
                )
            )
        if t.waiting > ops.alert_queue_depth:
            alerts.append(
                Alert(
                    QUEUE_DEPTH,
                    "warning",
                    name,
                    f"{t.waiting} {name} jobs waiting",
                    float(t.waiting),
                    float(ops.alert_queue_depth),
                )
            )
        age = freshest.get(name)
        if age is not None and age > ops.alert_heartbeat_s:
            alerts.append(
                Alert(
                    NO_HEARTBEAT,
                    "critical",
                    name,
                    f"no {name} worker seen for {age:.0f} s",
                    age,
                    ops.alert_heartbeat_s,
                )
            )
        elif age is None and t.waiting + t.delayed > 0:
            alerts.append(
                Alert(
                    NO_HEARTBEAT,
                    "critical",
                    name,
                    f"{t.waiting + t.delayed} {name} jobs queued and no worker ever seen",
                    float("inf"),
                    ops.alert_heartbeat_s,
                )
            )
    return alerts


def check(
    ledger: RedisLedger, client: redis.Redis, ops: OpsSettings, now: float | None = None
) -> list[Alert]:
    """Read the ledger and evaluate every rule; never raises for an unreachable Redis."""
    try:
        client.ping()
        stats = ledger.stats(window_minutes=WINDOW_MINUTES)
        finished = finished_in_window(
            ledger, client, stats.at if now is None else now, WINDOW_MINUTES
        )
    except (redis.RedisError, OSError) as exc:
        logger.warning("alerts: ledger unreadable: %s", exc)
        return evaluate(None, {}, ops, redis_ok=False)
    return evaluate(stats, finished, ops)


def alerts_table(firing: list[Alert]) -> Any:
    """A rich table of the alerts for ``catalog-sync stats`` ("none firing" when empty)."""
    from rich.table import Table

    table = Table(title="alerts (ops/alerts.yml rules)")
    for column in ("rule", "severity", "subject", "message"):
        table.add_column(column)
    if not firing:
        table.add_row("-", "-", "-", "none firing")
    for a in firing:
        table.add_row(a.rule, a.severity, a.subject, a.message)
    return table
