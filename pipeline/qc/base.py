"""What the rest of the system needs from a quality checker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pipeline.records import ProductRecord, QCVerdict


@dataclass(frozen=True)
class QCInput:
    product: ProductRecord
    image: bytes | None  # the first image's bytes, None when it could not be fetched
    image_vector: npt.NDArray[np.float32] | None = None
    text_vector: npt.NDArray[np.float32] | None = None
    # The ledger job's attempt (1-based) and its limit: a checker that retries an answer
    # it cannot use (Gemini off-schema) decides from these, never from a count of its own.
    attempt: int = 1
    max_attempts: int = 1

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


class QualityChecker(Protocol):
    """Returns a verdict: approved, rejected (never goes live) or flagged (held for review).

    Raises RetryableError (429, 5xx, timeouts, rate limit; ``delay`` set when the backend
    said how long to wait) or PermanentError (a request no retry will fix, e.g. a bad key).
    """

    @property
    def policy_version(self) -> str: ...

    async def check(self, item: QCInput) -> QCVerdict: ...

    async def aclose(self) -> None:
        """Releases connections; call it on the event loop that ran the checks."""
        ...
