"""A scrape that outlives JOB_TIMEOUT is cancelled inside the scraper actor, not only
abandoned by the caller: the actor's slot is free for the next job at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pipeline.errors import BackendUnavailable, CatalogSyncError
from pipeline.remote.scraper import RayScraper, ScraperActor
from pipeline.settings import Settings
from tests.sources.httpserver import Reply, TestServer

pytestmark = pytest.mark.slow


def test_a_timed_out_scrape_is_cancelled_in_the_actor(
    ray_session: Any, settings: Settings, server: TestServer
) -> None:
    # A page that drips one byte every half second: about 100 s in all, well within the
    # fetch timeout, so only the cancellation can end it early.
    server.route("/slow", Reply(body=b"<html>" + b" " * 200, drip_delay=0.5))
    server.route("/fast", Reply(body=b"<html><body>no products</body></html>"))
    slow_settings = settings.with_overrides(
        catalog={"fetch_timeout": 300, "verify_images": False, "per_host_rate": 100.0}
    )
    # One scrape at a time: the second waits for the first unless the first is cancelled.
    handle = ScraperActor.options(max_concurrency=1).remote(slow_settings)

    async def main() -> float:
        scraper = RayScraper(handle, timeout=3)
        try:
            with pytest.raises(BackendUnavailable, match="exceeded"):
                await scraper.scrape(server.url("/slow"), "slow", "storefront")
            scraper = RayScraper(handle, timeout=60)
            started = time.monotonic()
            try:
                await scraper.scrape(server.url("/fast"), "fast", "storefront")
            except CatalogSyncError as exc:  # "no products" is an answer too
                assert "exceeded" not in str(exc)
            return time.monotonic() - started
        finally:
            await scraper.aclose()

    took = asyncio.run(main())
    assert took < 30, f"the next scrape waited {took:.0f} s behind the abandoned one"
    assert any(s.path == "/fast" for s in server.seen)
