"""The alert rules of ``ops/alerts.yml``, evaluated in-process from the ledger.

Prometheus evaluates the YAML against the API's ``/metrics``; ``catalog-sync stats`` and
the dashboard evaluate the same five rules here, with the thresholds from ``OPS_ALERT_*``,
so an operator without Prometheus sees the same alerts. ``RULES`` names them; a test
checks that the YAML names the same ones.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import redis

from pipeline.ledger import RedisLedger
from pipeline.ops.ledgerview import dead_in_window, finished_in_window
from pipeline.records import JobType
from pipeline.settings import OpsSettings

logger = logging.getLogger(__name__)

FAILURE_RATE = "JobFailureRateHigh"
QUEUE_DEPTH = "QueueDepthHigh"
NO_HEARTBEAT = "WorkerHeartbeatMissing"
REDIS_DOWN = "RedisUnreachable"
SCRAPE_DEAD = "ScrapeDead"
RULES = (FAILURE_RATE, QUEUE_DEPTH, NO_HEARTBEAT, REDIS_DOWN, SCRAPE_DEAD)
WINDOW_MINUTES = 10
# A small shop never finishes OPS_ALERT_MIN_FINISHED attempts in the window: from this
# many on, the rule fires when even the Wilson lower bound of the failure ratio (95 %)
# is above the threshold, i.e. when the failures are unlikely to be a blip.
SMALL_MIN_FINISHED = 5
Z = 1.96


def wilson_lower(failed: float, total: int, z: float = Z) -> float:
    """Lower bound of the Wilson score interval for a ratio of ``failed`` in ``total``."""
    if total <= 0:
        return 0.0
    p = failed / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z2 / total))


def failure_rate_fires(ratio: float, volume: int, ops: OpsSettings) -> bool:
    """Above the threshold with enough volume, or surely above it on a small volume."""
    if ratio <= ops.alert_failure_rate:
        return False
    if volume >= ops.alert_min_finished:
        return True
    return volume >= SMALL_MIN_FINISHED and wilson_lower(ratio * volume, volume) > (
        ops.alert_failure_rate
    )


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
    stats: Any,
    finished: dict[str, int],
    ops: OpsSettings,
    *,
    redis_ok: bool = True,
    scrapes_dead: int = 0,
) -> list[Alert]:
    """Alerts firing for ``stats`` (``LedgerStats``), attempts finished per type in the
    window and scrapes that died in it. ``redis_ok=False`` (the ledger unreadable) fires
    only ``RedisUnreachable``."""
    if not redis_ok:
        return [Alert(REDIS_DOWN, "critical", "redis", "Redis does not answer", 1.0, 0.0)]
    alerts: list[Alert] = []
    if scrapes_dead > 0:
        # A dead scrape is a seller whose whole catalog was not read: worth a look alone.
        alerts.append(
            Alert(
                SCRAPE_DEAD,
                "critical",
                JobType.SCRAPE_CATALOG.value,
                f"{scrapes_dead} catalog scrape(s) died in {WINDOW_MINUTES} min: "
                "catalog-sync dlq list --type scrape-catalog",
                float(scrapes_dead),
                0.0,
            )
        )
    freshest: dict[str, float] = {}
    for consumer in stats.consumers:
        freshest[consumer.type] = min(consumer.age_s, freshest.get(consumer.type, consumer.age_s))
    for name, t in stats.types.items():
        ratio = t.failure_rate or 0.0
        volume = finished.get(name, 0)
        if failure_rate_fires(ratio, volume, ops):
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
        at = stats.at if now is None else now
        finished = finished_in_window(ledger, client, at, WINDOW_MINUTES)
        dead = dead_in_window(ledger, client, at, WINDOW_MINUTES, JobType.SCRAPE_CATALOG)
    except (redis.RedisError, OSError) as exc:
        logger.warning("alerts: ledger unreadable: %s", exc)
        return evaluate(None, {}, ops, redis_ok=False)
    return evaluate(stats, finished, ops, scrapes_dead=dead)


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
