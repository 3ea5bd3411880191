"""One retry policy for ledger jobs and webhook deliveries."""

from __future__ import annotations

from pipeline.ledger.retry import retry_delay


def test_doubles_from_the_base() -> None:
    assert [retry_delay(a, 2.0) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]


def test_jitter_stays_within_its_band() -> None:
    delays = [retry_delay(3, 2.0, jitter=0.25) for _ in range(200)]
    assert all(6.0 <= d <= 10.0 for d in delays) and len(set(delays)) > 1


def test_retry_after_raises_it_and_the_cap_bounds_it() -> None:
    assert retry_delay(1, 2.0, at_least_s=30.0) == 30.0
    assert retry_delay(10, 2.0, cap_s=60.0) == 60.0
    assert retry_delay(1, 2.0, at_least_s=90.0, cap_s=60.0) == 60.0
