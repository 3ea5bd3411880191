"""Each alert fires from a real ledger; ops/alerts.yml names the same rules and thresholds."""

from __future__ import annotations

from pathlib import Path

import redis
import yaml
from click.testing import CliRunner

from pipeline.cli.main import main as cli
from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.local.redis import local_redis
from pipeline.ops import alerts
from pipeline.records import JobType
from pipeline.settings import OpsSettings, Settings
from tests.keys import KEYS

RULES_FILE = Path(__file__).resolve().parents[2] / "ops" / "alerts.yml"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def qc_specs(n: int, prefix: str = "p") -> list[JobSpec]:
    return [
        JobSpec(
            JobType.QUALITY_CONTROL,
            {"product_id": f"s1:{prefix}{i}", "seller_id": "s1", "content_hash": "ab" * 8},
            "s1",
            idempotency_key=f"qc:{prefix}{i}",
        )
        for i in range(n)
    ]


def rules_of(firing: list[alerts.Alert]) -> set[tuple[str, str]]:
    return {(a.rule, a.subject) for a in firing}


def test_quiet_ledger_fires_nothing(redis_client: redis.Redis, settings: Settings) -> None:
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    assert alerts.check(ledger, redis_client, settings.ops) == []


def test_failure_rate_fires_above_5_percent(redis_client: redis.Redis, settings: Settings) -> None:
    clock = Clock()
    ledger = RedisLedger(redis_client, settings.jobs, clock=clock, keys=KEYS)
    ledger.enqueue_many(qc_specs(25))
    claimed = ledger.claim(JobType.QUALITY_CONTROL, "w1", 25)
    assert len(claimed) == 25
    # 1 of 25 failed (4%): below the threshold.
    ledger.complete_many([(c, None) for c in claimed[:24]])
    ledger.fail(claimed[24], PermanentError("bad"))
    assert alerts.check(ledger, redis_client, settings.ops, now=clock.now) == []
    # 2 of 26 (7.7%): fires, for that type only.
    ledger.enqueue_many(qc_specs(1, "q"))
    (extra,) = ledger.claim(JobType.QUALITY_CONTROL, "w1", 1)
    ledger.fail(extra, PermanentError("bad"))
    firing = alerts.check(ledger, redis_client, settings.ops, now=clock.now)
    assert rules_of(firing) == {(alerts.FAILURE_RATE, "quality-control")}
    assert 0.07 < firing[0].value < 0.08


def test_failure_rate_needs_volume(redis_client: redis.Redis, settings: Settings) -> None:
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    ledger.enqueue_many(qc_specs(2))
    a, b = ledger.claim(JobType.QUALITY_CONTROL, "w1", 2)
    ledger.complete(a)
    ledger.fail(b, PermanentError("bad"))  # 50%, but 2 attempts are no incident
    assert alerts.check(ledger, redis_client, settings.ops) == []


def test_queue_depth_and_missing_worker(redis_client: redis.Redis, settings: Settings) -> None:
    ops = settings.with_overrides(ops={"alert_queue_depth": 5}).ops
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    ledger.enqueue_many(qc_specs(5))
    # 5 waiting is not above 5; but nobody ever consumed quality-control.
    assert rules_of(alerts.check(ledger, redis_client, ops)) == {
        (alerts.NO_HEARTBEAT, "quality-control")
    }
    ledger.enqueue_many(qc_specs(1, "x"))
    assert rules_of(alerts.check(ledger, redis_client, ops)) == {
        (alerts.NO_HEARTBEAT, "quality-control"),
        (alerts.QUEUE_DEPTH, "quality-control"),
    }


def test_heartbeat_goes_stale(redis_client: redis.Redis, settings: Settings) -> None:
    clock = Clock()
    ledger = RedisLedger(redis_client, settings.jobs, clock=clock, keys=KEYS)
    ledger.enqueue_many(qc_specs(1))
    ledger.claim(JobType.QUALITY_CONTROL, "w1", 1)
    clock.now += 119
    assert alerts.check(ledger, redis_client, settings.ops, now=clock.now) == []
    clock.now += 2
    firing = alerts.check(ledger, redis_client, settings.ops, now=clock.now)
    assert rules_of(firing) == {(alerts.NO_HEARTBEAT, "quality-control")}
    assert firing[0].severity == "critical"


def test_redis_unreachable(tmp_path: Path, settings: Settings) -> None:
    service = local_redis(tmp_path / "doomed")
    service.ensure()
    client: redis.Redis = redis.Redis(port=service.port, socket_connect_timeout=1, socket_timeout=1)
    ledger = RedisLedger(client, settings.jobs, keys=KEYS)
    assert alerts.check(ledger, client, settings.ops) == []
    service.close()
    firing = alerts.check(ledger, client, settings.ops)
    assert rules_of(firing) == {(alerts.REDIS_DOWN, "redis")}
    client.close()


def test_rules_file_matches_the_checker() -> None:
    doc = yaml.safe_load(RULES_FILE.read_text())
    rules = {r["alert"]: r for group in doc["groups"] for r in group["rules"]}
    assert set(rules) == set(alerts.RULES)
    defaults = OpsSettings()
    assert f"> {defaults.alert_failure_rate}" in rules[alerts.FAILURE_RATE]["expr"]
    assert f">= {defaults.alert_min_finished}" in rules[alerts.FAILURE_RATE]["expr"]
    assert f"> {defaults.alert_queue_depth}" in rules[alerts.QUEUE_DEPTH]["expr"]
    assert f"> {defaults.alert_heartbeat_s:.0f}" in rules[alerts.NO_HEARTBEAT]["expr"]
    assert "catalog_sync_redis_up == 0" in rules[alerts.REDIS_DOWN]["expr"]
    for rule in rules.values():
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_stats_command_shows_alerts(redis_client: redis.Redis, settings: Settings) -> None:
    RedisLedger(redis_client, settings.jobs, keys=KEYS).enqueue_many(qc_specs(2))
    assert settings.redis.url is not None
    env = {"REDIS_URL": settings.redis.url.get_secret_value(), "DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(cli, ["stats"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "alerts" in result.output and alerts.NO_HEARTBEAT in result.output
    result = CliRunner().invoke(cli, ["stats", "--json"], env=env, catch_exceptions=False)
    assert '"rule": "WorkerHeartbeatMissing"' in result.output


def test_failure_rate_fires_for_a_small_shop(redis_client: redis.Redis, settings: Settings) -> None:
    """7 of 17 attempts failed (41 %): far from 20 finished, but surely not a blip."""
    clock = Clock()
    ledger = RedisLedger(redis_client, settings.jobs, clock=clock, keys=KEYS)
    ledger.enqueue_many(qc_specs(17))
    claimed = ledger.claim(JobType.QUALITY_CONTROL, "w1", 17)
    ledger.complete_many([(c, None) for c in claimed[:10]])
    for c in claimed[10:]:
        ledger.fail(c, PermanentError("bad"))
    firing = alerts.check(ledger, redis_client, settings.ops, now=clock.now)
    assert (alerts.FAILURE_RATE, "quality-control") in rules_of(firing)


def test_wilson_lower_bound() -> None:
    assert alerts.wilson_lower(0, 10) == 0.0
    assert 0.18 < alerts.wilson_lower(7, 17) < 0.22
    assert alerts.wilson_lower(1, 5) < 0.05 < alerts.wilson_lower(2, 5)


def test_a_dead_scrape_alerts_on_its_own(redis_client: redis.Redis, settings: Settings) -> None:
    clock = Clock()
    ledger = RedisLedger(redis_client, settings.jobs, clock=clock, keys=KEYS)
    payload = {"seller_id": "s1", "catalog_url": "https://wa.me/c/15551234567", "source": "auto"}
    ledger.enqueue(JobSpec(JobType.SCRAPE_CATALOG, payload, "s1"))
    (scrape,) = ledger.claim(JobType.SCRAPE_CATALOG, "w1", 1)
    ledger.fail(scrape, PermanentError("catalog page is gone"))
    firing = alerts.check(ledger, redis_client, settings.ops, now=clock.now)
    assert (alerts.SCRAPE_DEAD, "scrape-catalog") in rules_of(firing)
    (dead,) = [a for a in firing if a.rule == alerts.SCRAPE_DEAD]
    assert dead.severity == "critical" and dead.value == 1.0
    clock.now += 11 * 60  # out of the window: quiet again
    assert alerts.SCRAPE_DEAD not in {
        a.rule for a in alerts.check(ledger, redis_client, settings.ops, now=clock.now)
    }
