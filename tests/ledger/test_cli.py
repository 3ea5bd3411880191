"""``catalog-sync stats`` and ``dlq`` against a live redis-server, through click."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from pipeline.cli.main import main
from pipeline.errors import PermanentError
from pipeline.ledger import RedisLedger
from pipeline.records import JobType
from pipeline.settings import JobSettings
from tests.keys import KEYS
from tests.ledger.conftest import qc_spec

QC = JobType.QUALITY_CONTROL
Invoke = Callable[..., Result]


@pytest.fixture
def invoke(redis_url: str, tmp_path: Path) -> Iterator[Invoke]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level  # the CLI configures logging for the process
    runner = CliRunner()
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)

    yield invoke
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


@pytest.fixture
def dead(redis_client: redis.Redis) -> list[str]:
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    ledger.enqueue_many([qc_spec(i, seller="s1" if i < 3 else "s2") for i in range(5)])
    ids = []
    for claimed in ledger.claim(QC, "cli-test", 5):
        ledger.fail(claimed, PermanentError(f"bad {claimed.payload['product_id']}"))
        ids.append(claimed.job_id)
    return ids


def test_stats_json_table_and_check(invoke: Invoke, dead: list[str]) -> None:
    result = invoke("stats", "--json", "--check")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["types"][QC.value]["dead"] == 5
    assert payload["problems"] == []
    assert payload["consumers"][0]["name"] == "cli-test"
    table = invoke("stats", "--watch", "--interval", "0.1", "--count", "2")
    assert table.exit_code == 0
    assert table.output.count("job ledger at") == 2 and "cli-test" in table.output
    # 5 of 5 quality-control attempts died: the failure-rate alert fires (small volume).
    assert "JobFailureRateHigh" in table.output


def test_stats_check_fails_on_a_broken_invariant(
    invoke: Invoke, dead: list[str], redis_client: redis.Redis
) -> None:
    redis_client.hincrby("cs:count:quality-control", "created", 1)  # a job that vanished
    result = invoke("stats", "--check")
    assert result.exit_code == 1
    assert "BROKEN" in result.output and "created 6" in result.output


def test_dlq_list_show_replay_purge(
    invoke: Invoke, dead: list[str], redis_client: redis.Redis
) -> None:
    listed = invoke("dlq", "list", "--seller", "s1", "--json")
    assert {j["id"] for j in json.loads(listed.stdout)} == set(dead[:3])
    text = invoke("dlq", "list", "--type", QC.value)
    assert text.output.count("PermanentError") == 5
    shown = json.loads(invoke("dlq", "show", dead[0]).stdout)
    assert shown["errors"][0]["error"]["message"] == "bad p0"
    missing = CliRunner().invoke(main, ["dlq", "show", "nope"], env={"REDIS_URL": "x"})
    assert missing.exit_code == 2 and "REDIS_URL" in missing.output
    assert invoke("dlq", "show", "nope").exit_code == 1

    assert invoke("dlq", "replay").exit_code == 2  # nothing selected: usage error
    assert "replayed 1" in invoke("dlq", "replay", dead[0]).output
    assert "replayed 2" in invoke("dlq", "replay", "--seller", "s1").output
    refused = invoke("dlq", "purge", "--all", stdin="n\n")
    assert refused.exit_code == 1 and "purged" not in refused.output
    assert "purged 2" in invoke("dlq", "purge", "--all", "--yes").output
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    assert ledger.dlq_list() == [] and ledger.stats().types[QC].waiting == 3
    assert ledger.check_invariants() == []


def test_dead_webhook_deliveries_show_in_dlq(invoke: Invoke, redis_client: redis.Redis) -> None:
    from pipeline.notify.outbox import NewDelivery, RedisWebhookOutbox

    outbox = RedisWebhookOutbox(redis_client, KEYS)
    body = json.dumps({"event": "sync.completed"}).encode()
    cursor = outbox.cursor(KEYS.events)
    assert outbox.produce(cursor, "1-0", [NewDelivery("d1", "s1", "sync.completed", body)], 1.0)
    (claimed,) = outbox.claim(now=2.0, limit=5, lease_s=30.0)
    assert outbox.finish(claimed, "dead", error="receiver answered 410")
    listed = invoke("dlq", "list")
    assert "1 dead webhook deliveries: catalog-sync dlq webhooks" in listed.stdout
    shown = [json.loads(line) for line in invoke("dlq", "webhooks").stdout.splitlines()]
    assert [(d["id"], d["seller"], d["error"]) for d in shown] == [
        ("d1", "s1", "receiver answered 410")
    ]
    assert json.loads(invoke("dlq", "list", "--json").stdout) == []  # jobs only, as before
