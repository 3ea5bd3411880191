"""GeminiQualityChecker against a local server speaking the generateContent wire format:
verdicts, off-schema answers, 429/503/400/timeouts, the request's content, rate limit, cache."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import redis
from PIL import Image

from pipeline.errors import PermanentError, RetryableError
from pipeline.ledger.ratelimit import RedisRateLimiter
from pipeline.qc.base import QCInput
from pipeline.qc.cache import CachedQualityChecker
from pipeline.qc.factory import build_quality_checker
from pipeline.qc.gemini import GeminiQualityChecker
from pipeline.qc.local import LocalQualityChecker
from pipeline.records import QCDecision, QCVerdict
from pipeline.sample_site.images import CORRUPT_JPEG
from pipeline.settings import Settings
from tests.qc.conftest import product
from tests.qc.fake_gemini import (
    FakeGemini,
    Reply,
    error_reply,
    image_parts,
    text_reply,
    verdict_reply,
)

T = TypeVar("T")


def big_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2000, 1500), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


PHOTO = big_jpeg()


def gemini_settings(settings: Settings, fake: FakeGemini, **gemini: Any) -> Settings:
    fields = {"api_key": fake.api_key, "base_url": fake.url, "timeout": 5, **gemini}
    return settings.with_overrides(gemini=fields)


def run_with(
    settings: Settings,
    client: redis.Redis,
    body: Callable[[GeminiQualityChecker], Awaitable[T]],
) -> T:
    """Runs ``body`` with a fresh checker on one event loop and closes it there."""

    async def main() -> T:
        checker = GeminiQualityChecker(
            settings, limiter=RedisRateLimiter(client, settings.redis.keys)
        )
        try:
            return await body(checker)
        finally:
            await checker.aclose()

    return asyncio.run(main())


def item(attempt: int = 1, **fields: Any) -> QCInput:
    return QCInput(product(**fields), PHOTO, attempt=attempt, max_attempts=3)


def test_well_formed_verdict_and_what_the_request_carries(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.default = verdict_reply(
        "rejected", reasons=["sells a firearm"], category="weapons", confidence=0.97
    )
    cfg = gemini_settings(settings, fake_gemini, model="gemini-test-model", max_image_side=512)
    verdict = run_with(cfg, redis_client, lambda c: c.check(item(name="Ceramic mug")))
    assert verdict.decision == QCDecision.REJECTED
    assert verdict.reasons == ["sells a firearm"]
    assert verdict.category == "weapons" and verdict.confidence == 0.97
    assert verdict.model == "gemini-test-model"
    assert verdict.policy_version == settings.qc.policy_version

    assert fake_gemini.problems == []
    (seen,) = fake_gemini.seen
    assert (seen.version, seen.model) == ("v1beta", "gemini-test-model")
    text = seen.body["contents"][0]["parts"][0]["text"]
    assert "name: Ceramic mug" in text and "price: 12.50 USD" in text
    (image,) = image_parts(seen)
    assert image["mimeType"] == "image/jpeg"
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(image["data"])))
    assert max(sent.size) == 512  # downscaled from 2000 x 1500
    schema = seen.body["generationConfig"]["responseSchema"]
    assert schema["properties"]["decision"]["enum"] == ["approved", "rejected", "flagged"]
    assert "weapons" in schema["properties"]["category"]["enum"]
    policy = seen.body["systemInstruction"]["parts"][0]["text"]
    assert "counterfeits" in policy and "image_mismatch" in policy


def test_api_version_v1_is_served_too(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    cfg = gemini_settings(settings, fake_gemini, api_version="v1")
    verdict = run_with(cfg, redis_client, lambda c: c.check(item()))
    assert verdict.decision == QCDecision.APPROVED
    assert fake_gemini.seen[0].version == "v1"


@pytest.mark.parametrize(
    "answer",
    ["Looks fine to me!", '{"decision": "maybe", "category": "none", "confidence": 0.5}'],
)
def test_off_schema_answer_is_retryable_then_flagged(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini, answer: str
) -> None:
    fake_gemini.default = text_reply(answer)
    cfg = gemini_settings(settings, fake_gemini)

    async def attempts(checker: GeminiQualityChecker) -> QCVerdict:
        for attempt in (1, 2):
            with pytest.raises(RetryableError, match=f"off-schema \\(attempt {attempt} of 3"):
                await checker.check(item(attempt=attempt))
        return await checker.check(item(attempt=3))

    verdict = run_with(cfg, redis_client, attempts)
    assert verdict.decision == QCDecision.FLAGGED
    assert verdict.reasons == ["the model answered off-schema on the last attempt (attempt 3 of 3)"]
    assert len(fake_gemini.seen) == 3


def test_off_schema_follows_the_jobs_attempt_not_a_count_of_its_own(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    """A replayed job starts again at attempt 1 and a job's last attempt is its last,
    whatever answers came before: QC reads the attempt from the job."""
    fake_gemini.default = text_reply("Looks fine to me!")
    cfg = gemini_settings(settings, fake_gemini)

    async def attempts(checker: GeminiQualityChecker) -> tuple[QCVerdict, QCVerdict]:
        last = await checker.check(item(attempt=3))
        again = await checker.check(item(attempt=3))
        for _ in range(2):  # the same product, replayed: its first attempts retry again
            with pytest.raises(RetryableError, match="attempt 1 of 3"):
                await checker.check(item(attempt=1))
        return last, again

    last, again = run_with(cfg, redis_client, attempts)
    assert last.decision == again.decision == QCDecision.FLAGGED


def test_safety_block_is_flagged_for_review(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.default = Reply(
        body={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "candidates": []}
    )
    verdict = run_with(
        gemini_settings(settings, fake_gemini), redis_client, lambda c: c.check(item())
    )
    assert verdict.decision == QCDecision.FLAGGED
    assert "PROHIBITED_CONTENT" in verdict.reasons[0]


def test_429_then_success_carries_retry_after(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script = [
        error_reply(429, "RESOURCE_EXHAUSTED", "quota", **{"Retry-After": "7"}),
        verdict_reply(),
    ]

    async def body(checker: GeminiQualityChecker) -> QCVerdict:
        with pytest.raises(RetryableError) as caught:
            await checker.check(item())
        assert caught.value.delay == 7.0
        assert len(fake_gemini.seen) == 1  # the SDK did not retry on its own
        return await checker.check(item())

    verdict = run_with(gemini_settings(settings, fake_gemini), redis_client, body)
    assert verdict.decision == QCDecision.APPROVED


def test_429_retry_info_detail_gives_the_delay(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    reply = error_reply(429, "RESOURCE_EXHAUSTED", "quota")
    reply.body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}
    ]
    fake_gemini.script = [reply]
    with pytest.raises(RetryableError) as caught:
        run_with(gemini_settings(settings, fake_gemini), redis_client, lambda c: c.check(item()))
    assert caught.value.delay == 12.0


def test_503_three_times_is_retryable_each_time(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script = [error_reply(503, "UNAVAILABLE", "overloaded")] * 3

    async def body(checker: GeminiQualityChecker) -> QCVerdict:
        for _ in range(3):
            with pytest.raises(RetryableError, match="503"):
                await checker.check(item())
        return await checker.check(item())

    verdict = run_with(gemini_settings(settings, fake_gemini), redis_client, body)
    assert verdict.decision == QCDecision.APPROVED
    assert len(fake_gemini.seen) == 4  # one request per attempt: no hidden SDK retries


def test_400_and_invalid_key_are_permanent(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script = [error_reply(400, "INVALID_ARGUMENT", "bad image")]
    cfg = gemini_settings(settings, fake_gemini)
    with pytest.raises(PermanentError, match="400 INVALID_ARGUMENT"):
        run_with(cfg, redis_client, lambda c: c.check(item()))
    wrong_key = gemini_settings(settings, fake_gemini, api_key="not-the-key")
    with pytest.raises(PermanentError, match="API key not valid"):
        run_with(wrong_key, redis_client, lambda c: c.check(item()))


def test_timeout_is_retryable(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script = [Reply(body={}, delay_s=4.0)]
    cfg = gemini_settings(settings, fake_gemini, timeout=1)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="timed out"):
        run_with(cfg, redis_client, lambda c: c.check(item()))
    assert time.monotonic() - started < 3.5


def test_rules_decide_first_without_a_request(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    cfg = gemini_settings(settings, fake_gemini)
    zero = run_with(cfg, redis_client, lambda c: c.check(item(price=Decimal("0"))))
    corrupt = run_with(cfg, redis_client, lambda c: c.check(QCInput(product(), CORRUPT_JPEG)))
    assert zero.decision == corrupt.decision == QCDecision.REJECTED
    assert corrupt.reasons == ["image could not be decoded"]
    assert fake_gemini.seen == []


def test_a_flagging_rule_holds_an_approved_product(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    cfg = gemini_settings(settings, fake_gemini)
    verdict = run_with(cfg, redis_client, lambda c: c.check(item(name="CBD balm")))
    assert verdict.decision == QCDecision.FLAGGED
    assert verdict.reasons == ["term 'cbd' needs review (drugs)"]


def test_requests_per_minute_is_shared_through_redis(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    cfg = gemini_settings(settings, fake_gemini, requests_per_minute=1, burst=1)
    run_with(cfg, redis_client, lambda c: c.check(item()))
    # Another worker (another checker, same Redis) finds the bucket empty.
    with pytest.raises(RetryableError, match="rate limit") as caught:
        run_with(cfg, redis_client, lambda c: c.check(item(name="Blue mug")))
    assert caught.value.delay is not None and 50 < caught.value.delay <= 60
    assert len(fake_gemini.seen) == 1


def test_cache_prevents_a_second_call(
    settings: Settings, redis_client: redis.Redis, fake_gemini: FakeGemini
) -> None:
    cfg = gemini_settings(settings, fake_gemini)

    async def body() -> list[QCVerdict]:
        checker = build_quality_checker(cfg, redis_client)
        try:
            first = await checker.check(item())
            again = await checker.check(item())
            changed = await checker.check(item(description="Now with a lid."))
            return [first, again, changed]
        finally:
            await checker.aclose()

    first, again, changed = asyncio.run(body())
    assert again == first
    assert len(fake_gemini.seen) == 2  # the changed product only
    assert (
        redis_client.ttl(f"cs:qc:verdict:{cfg.qc.policy_version}:{item().product.content_hash}")
        > 86_000
    )
    # A new policy version checks everything again.
    bumped = cfg.with_overrides(qc={"policy_version": "next"})

    async def recheck() -> None:
        checker = build_quality_checker(bumped, redis_client)
        await checker.check(item())
        await checker.aclose()

    asyncio.run(recheck())
    assert len(fake_gemini.seen) == 3


def test_factory_picks_local_without_a_key(settings: Settings, redis_client: redis.Redis) -> None:
    checker = build_quality_checker(settings, redis_client)
    assert isinstance(checker, CachedQualityChecker)
    assert isinstance(checker.inner, LocalQualityChecker)
    keyed = settings.with_overrides(gemini={"api_key": "k"})
    assert isinstance(build_quality_checker(keyed, redis_client).inner, GeminiQualityChecker)
