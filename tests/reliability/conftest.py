"""Fixtures of the crash and hostile-input suite: the sample site and the Ray address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.sample_site.server import SampleSite


@pytest.fixture(scope="package")
def site() -> Iterator[SampleSite]:
    """The sample site with a bulk seller big enough to catch every stage mid-batch.

    A little latency per request keeps the scrape (one feed plus each image checked) in
    flight long enough for a test to see it active and kill the worker holding it.
    """
    with SampleSite(bulk_products=120, latency_ms=5) as running:
        yield running


@pytest.fixture(scope="package")
def ray_address(ray_session: Any) -> str:
    """The shared test cluster's address, for worker processes to join it as drivers."""
    address: str = ray_session.get_runtime_context().gcs_address
    return address
