"""The error hierarchy. Adapters translate library errors into these at the boundary.

The ledger acts on the class: ``RetryableError`` comes back after a backoff (or after its
own ``delay``), ``PermanentError`` goes straight to the dead-letter queue, and
``BackendUnavailable`` is retryable because the service may come back.
"""

from __future__ import annotations


class CatalogSyncError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(CatalogSyncError):
    """A setting is missing or invalid; raised at start-up, names the variable and rule."""


class RetryableError(CatalogSyncError):
    """Worth another attempt. ``delay`` (seconds) overrides the ledger's backoff."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        if delay is not None and delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.delay = delay


class BackendUnavailable(RetryableError):
    """A service we depend on (Redis, Milvus, Gemini, a seller's host) cannot be reached."""


class PermanentError(CatalogSyncError):
    """Invalid input or a refusal that no retry will fix: dead-lettered at once."""


class UnsafeURLError(PermanentError):
    """A URL we refuse to fetch: bad scheme, private address, too large ..."""
