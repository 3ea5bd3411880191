"""Fixtures of the catalog-source tests: real local HTTP servers and the sample site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.sample_site import GRAPH_TOKEN, SampleSite
from pipeline.settings import CatalogSettings, Settings
from tests.sources.httpserver import TestServer, running_server


@pytest.fixture
def server() -> Iterator[TestServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def site() -> Iterator[SampleSite]:
    """The sample catalog site on a free loopback port; tests may change its catalog."""
    with SampleSite(host="127.0.0.1", port=0, bulk_products=200) as running:
        yield running


@pytest.fixture
def site_catalog(settings: Settings, site: SampleSite) -> CatalogSettings:
    """Catalog settings that reach the sample site, its Graph API imitation included."""
    return settings.with_overrides(
        catalog={
            "graph_base_url": f"{site.base_url}/graph/v21.0",
            "graph_token": GRAPH_TOKEN,
            "per_host_rate": 200.0,
            "scroll_idle_ms": 1500,
        }
    ).catalog
