"""A sync's outcome is told truthfully: a dead scrape is ``failed`` with its reason, dead
product jobs make ``completed_with_errors`` with counts, and the CLI, the webhook
translator and the error records agree. Real redis-server; the worker's part is played
through the ledger (claim, complete, fail) so each outcome is exact."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from ray.exceptions import RayTaskError

from pipeline.cli.main import main
from pipeline.errors import PermanentError, UnsafeURLError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.notify.events import SyncEventTranslator
from pipeline.records import JobType
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import JobSettings
from pipeline.syncs import start_sync, sync_view
from tests.keys import KEYS

CATALOG = "https://wa.me/c/15551234567"
REASON = "refused '169.254.169.254': link-local address"
RAY_TEXT = (
    "\x1b[36mray::ScraperWorker.scrape()\x1b[39m (pid=6362, ip=127.0.0.1)\n"
    '  File "concurrent/futures/_base.py", line 449, in result\n'
    f"pipeline.errors.UnsafeURLError: {REASON}"
)


def ray_wrapped(cause: BaseException) -> BaseException:
    """The exception Ray raises in the caller for a remote failure (the real class)."""
    return RayTaskError("ScraperWorker.scrape", RAY_TEXT, cause).as_instanceof_cause()  # type: ignore[no-untyped-call]


@pytest.fixture
def ledger(redis_client: redis.Redis) -> RedisLedger:
    return RedisLedger(redis_client, JobSettings(max_attempts=2, backoff_jitter=0.0), keys=KEYS)


def scrape_spec(seller: str, sync_id: str) -> JobSpec:
    payload = {"seller_id": seller, "catalog_url": CATALOG, "source": "auto"}
    return JobSpec(JobType.SCRAPE_CATALOG, payload, seller, idempotency_key=f"scrape:{sync_id}")


def run_scrape(ledger: RedisLedger, client: redis.Redis, seller: str) -> tuple[str, str]:
    """Start a sync and play its sync-seller job: it queues the scrape. Returns ids."""
    sync_id = start_sync(ledger, client, seller, CATALOG).sync_id
    (sync,) = ledger.claim(JobType.SYNC_SELLER, "w", 1)
    (scrape,) = ledger.add_children(sync_id, [scrape_spec(seller, sync_id)])
    ledger.complete(sync)
    return sync_id, scrape.id


def kill_scrape(ledger: RedisLedger) -> None:
    (job,) = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
    ledger.fail(job, ray_wrapped(UnsafeURLError(REASON)))


def test_a_dead_scrape_fails_the_sync_with_its_reason(
    ledger: RedisLedger, redis_client: redis.Redis
) -> None:
    sync_id, scrape_id = run_scrape(ledger, redis_client, "s1")
    kill_scrape(ledger)
    assert ledger.get(sync_id).state.value == "completed"  # type: ignore[union-attr]
    view = sync_view(ledger, redis_client, sync_id)
    assert view is not None
    assert view["state"] == "failed" and view["ended"], view
    assert view["last_error"]["job_id"] == scrape_id
    assert view["last_error"]["message"] == REASON
    assert view["last_error"]["error_type"].endswith("UnsafeURLError")
    assert view["failed_jobs"] == {"scrape-catalog": 1}


def test_dead_product_jobs_make_completed_with_errors_with_counts(
    ledger: RedisLedger, redis_client: redis.Redis
) -> None:
    sync_id, _ = run_scrape(ledger, redis_client, "s1")
    (scrape,) = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
    specs = [
        JobSpec(
            JobType.QUALITY_CONTROL,
            {"product_id": f"p{i}", "seller_id": "s1", "content_hash": "ab" * 16},
            "s1",
        )
        for i in range(3)
    ]
    ledger.add_children(sync_id, specs)
    ledger.complete(scrape, {"found": 3, "changed": 3})
    for i, job in enumerate(ledger.claim(JobType.QUALITY_CONTROL, "w", 3)):
        if i == 0:
            ledger.fail(job, PermanentError("image is 0 bytes"))
        else:
            ledger.complete(job)
    view = sync_view(ledger, redis_client, sync_id)
    assert view is not None
    assert view["state"] == "completed_with_errors", view
    assert view["failed_jobs"] == {"quality-control": 1}
    assert [e["message"] for e in view["errors"]] == ["image is 0 bytes"]


def test_a_clean_sync_is_completed(ledger: RedisLedger, redis_client: redis.Redis) -> None:
    sync_id, _ = run_scrape(ledger, redis_client, "s1")
    (scrape,) = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
    ledger.complete(scrape, {"found": 0})
    view = sync_view(ledger, redis_client, sync_id)
    assert view is not None and view["state"] == "completed"
    assert view["errors"] == [] and view["last_error"] is None


def test_ray_wrapped_errors_are_stored_root_cause_first_without_colour(
    ledger: RedisLedger, redis_client: redis.Redis
) -> None:
    run_scrape(ledger, redis_client, "s1")
    kill_scrape(ledger)
    (dead,) = ledger.dlq_list()
    error = dead.last_error
    assert error is not None
    assert error["message"] == REASON  # one line, the reason itself
    assert error["type"] == "pipeline.errors.UnsafeURLError"
    assert "\x1b[" not in json.dumps(dead.to_dict())
    assert "ScraperWorker.scrape" in error["traceback"]  # kept apart, for dlq show


def test_webhook_says_failed_for_a_dead_scrape(
    ledger: RedisLedger, redis_client: redis.Redis
) -> None:
    directory = RedisSellerDirectory(redis_client, KEYS)
    directory.upsert("s1", webhook_url="https://hooks.example/x", webhook_secret="s" * 20)
    translator = SyncEventTranslator(redis_client, ledger, directory, progress_interval_s=0)
    sync_id, _ = run_scrape(ledger, redis_client, "s1")
    kill_scrape(ledger)
    deliveries = translator.translate(ledger.events())
    finals = [d for d in deliveries if d.event in ("sync.completed", "sync.failed")]
    assert [d.event for d in finals] == ["sync.failed"]
    body = json.loads(finals[0].body)
    assert body["sync_id"] == sync_id and body["data"]["state"] == "failed"
    assert body["data"]["last_error"]["message"] == REASON


@pytest.fixture
def cli_env(redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_sync_wait_exits_non_zero_and_says_why_when_the_scrape_died(
    ledger: RedisLedger, redis_client: redis.Redis, cli_env: dict[str, str]
) -> None:
    def worker() -> None:
        """Plays the worker: the sync queues its scrape, which dies."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            claimed = ledger.claim(JobType.SYNC_SELLER, "w", 1)
            if claimed:
                (sync,) = claimed
                ledger.add_children(sync.job_id, [scrape_spec("s1", sync.job_id)])
                ledger.complete(sync)
                kill_scrape(ledger)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=worker)
    thread.start()
    result = CliRunner().invoke(main, ["sync", "--seller", "s1", CATALOG, "--wait"], env=cli_env)
    thread.join()
    assert result.exit_code == 1, result.output
    assert "failed" in result.output
    assert REASON in " ".join(result.output.split())
