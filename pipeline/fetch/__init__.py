"""Safe fetching of URLs that strangers give us: the SSRF guard, the HTTP fetcher and the
browser request router. Everything that leaves the machine for a catalog goes through here."""

from pipeline.fetch.fetcher import FetchResult, HttpStatusError, SafeFetcher, retry_after_seconds
from pipeline.fetch.guard import CheckedURL, UrlGuard, is_public_address, split_url
from pipeline.fetch.limits import HostLimiter

__all__ = [
    "CheckedURL",
    "FetchResult",
    "HostLimiter",
    "HttpStatusError",
    "SafeFetcher",
    "UrlGuard",
    "is_public_address",
    "retry_after_seconds",
    "split_url",
]
