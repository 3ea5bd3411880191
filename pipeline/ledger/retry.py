"""The one retry policy: exponential backoff with jitter, used by ledger jobs and webhook
deliveries alike, so both back off the same way."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    base_s: float,
    *,
    jitter: float = 0.0,
    cap_s: float | None = None,
    at_least_s: float | None = None,
) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): ``base_s`` x 2^(attempt-1),
    scaled by a random factor in [1 - jitter, 1 + jitter], raised to ``at_least_s`` (a
    server's ``Retry-After``), then capped at ``cap_s``."""
    delay = base_s * 2.0 ** max(0, attempt - 1)
    if jitter:
        delay *= random.uniform(1 - jitter, 1 + jitter)
    if at_least_s is not None:
        delay = max(delay, at_least_s)
    if cap_s is not None:
        delay = min(delay, cap_s)
    return float(delay)
