"""The QC backend (Gemini, a local server speaking ``generateContent``) answers 429 and 503
for a while in the middle of a sync: no job is lost, retries honour ``Retry-After`` and
back off, and the sync completes once the backend recovers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.ledger import RedisLedger
from pipeline.records import JobType
from pipeline.sample_site.server import SampleSite
from pipeline.worker import BackgroundWorker
from tests.keys import KEYS
from tests.qc.fake_gemini import FakeGemini, Reply, error_reply
from tests.reliability.harness import (
    BULK,
    all_events,
    assert_sound,
    begin_sync,
    crash_settings,
    record_outcome,
    valid_ids,
    wait_for,
    wait_sync,
)

pytestmark = pytest.mark.slow

OUTAGE_S = 8.0


class FlakyGemini(FakeGemini):
    """Answers normally until ``fail()``; then 429 (with Retry-After) and 503 alternately
    for ``OUTAGE_S`` seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.outage_until = 0.0
        self.refused = 0
        self._flip = 0
        self._guard = threading.Lock()

    def fail(self) -> None:
        self.outage_until = time.monotonic() + OUTAGE_S

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        now = time.monotonic()
        if now >= self.outage_until:
            return super().answer(path, headers, raw)
        with self._guard:
            self.refused += 1
            self._flip += 1
            if self._flip % 2:
                return error_reply(429, "RESOURCE_EXHAUSTED", "quota", **{"Retry-After": "2"})
        return error_reply(503, "UNAVAILABLE", "the model is overloaded")


@pytest.fixture
def gemini() -> Iterator[FlakyGemini]:
    server = FlakyGemini()
    server.start()
    yield server
    server.stop()


def test_qc_backend_429_503_then_recovery_loses_nothing(
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    site: SampleSite,
    ray_session: object,
    gemini: FlakyGemini,
) -> None:
    settings = crash_settings(
        tmp_path / "data",
        redis_url,
        site,
        gemini={
            "api_key": gemini.api_key,
            "base_url": gemini.url,
            "requests_per_minute": 60_000,
            "burst": 100,
        },
        jobs={"max_attempts": 10},
    )
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    worker = BackgroundWorker(settings).start()
    try:
        sync_id = begin_sync(ledger, redis_client, site, BULK)
        done = ledger.keys.done(JobType.QUALITY_CONTROL.value)
        wait_for(lambda: redis_client.zcard(done) >= 5, 180, "the first QC verdicts", 0.05)
        gemini.fail()
        failed_at = time.monotonic()
        view = wait_sync(ledger, redis_client, sync_id, timeout=240)
        recovered = time.monotonic() - failed_at
    finally:
        worker.stop()
    assert view["state"] == "completed", view
    qc = view["stages"]["quality-control"]
    assert qc["dead"] == 0 and qc["completed"] == qc["total"] > 0, view["stages"]
    assert gemini.refused, "the outage was never seen"
    events = all_events(ledger)
    retried = [e for e in events if e.type == "quality-control" and e.to_state == "delayed"]
    # Each refused call is one recorded attempt that waits before the next (no hidden
    # client-side retry loop), and a 429's Retry-After sets the wait.
    assert 0 < gemini.refused <= len(retried)
    assert any(e.note == "retry in 2.0 s" for e in retried), {e.note for e in retried}
    assert gemini.problems == []
    assert_sound(settings, ledger, redis_client, valid_ids(site, BULK))
    record_outcome(
        "QC backend 429/503 for 8 s",
        products=len(valid_ids(site, BULK)),
        refused_calls=gemini.refused,
        retries=len(retried),
        lost=0,
        dead=qc["dead"],
        seconds_from_outage_start_to_sync_complete=round(recovered, 1),
    )
