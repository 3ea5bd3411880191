"""The dashboard in headless Chromium: the charts draw the ledger's series (non-blank
pixels in every chart), the tables show syncs and dead letters, the key is asked for."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from serve.app import build_deps, create_api
from tests.appserver import ThreadedUvicorn
from tests.browser import chromium
from tests.ops.conftest import ADMIN
from tests.ops.test_api_ops import qc_spec

pytestmark = pytest.mark.slow

CHARTS = ("chart-depth", "chart-throughput", "chart-failures", "chart-latency")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def served(ops_settings: Settings) -> Iterator[tuple[str, Any]]:
    """A fresh app (its async Redis client belongs to uvicorn's loop) over loopback HTTP."""
    embedder = LocalSiglipEmbedder.from_settings(ops_settings)
    deps = build_deps(ops_settings, EmbedderQueryEncoder(embedder), Runtime(ops_settings))
    deps.redis.flushall()
    app = create_api(deps)
    with ThreadedUvicorn(app) as server:
        yield server.base_url, deps
    # Playwright's sync API runs a loop on this thread: close the embedder on another.
    closer = threading.Thread(target=asyncio.run, args=(embedder.aclose(),))
    closer.start()
    closer.join(timeout=30)


def _history(base_url: str, deps: Any) -> None:
    """A few minutes of activity, squeezed: samples at 50 ms intervals while jobs move."""
    ledger = deps.ledger
    headers = {"Authorization": f"Bearer {ADMIN}"}
    sync = ledger.enqueue(
        JobSpec(
            ledger_type("sync-seller"),
            {"seller_id": "s7", "catalog_url": "http://127.0.0.1/c/7", "source": "auto"},
            "s7",
        )
    )
    assert sync.id
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for step in range(6):
            ledger.enqueue_many([qc_spec(step * 10 + i) for i in range(8)])
            for job in ledger.claim(ledger_type("quality-control"), "w1", 5):
                if job.payload["product_id"].endswith("3"):
                    ledger.fail(job, PermanentError("price missing"))
                else:
                    ledger.complete(job)
            for q in ("vase", "mug", f"lamp {step}"):
                assert client.get("/v1/search", params={"q": q}).status_code == 200
            assert client.get("/v1/ops/timeseries", headers=headers).status_code == 200
            time.sleep(0.06)


def ledger_type(name: str) -> Any:
    from pipeline.records import JobType

    return JobType(name)


def _wait_rendered(page: Any, at_least: int, timeout: float = 20.0) -> int:
    """Samples drawn by the page's last render, once >= ``at_least``. Read as a DOM
    attribute: the page's CSP forbids the eval that Playwright's wait_for_function uses."""
    deadline = time.monotonic() + timeout
    while True:
        rendered = int(page.get_attribute("body", "data-rendered") or 0)
        if rendered >= at_least:
            return rendered
        if time.monotonic() > deadline:
            raise AssertionError(f"the page drew {rendered} samples, wanted {at_least}")
        page.wait_for_timeout(100)


def _ink(png: bytes) -> int:
    """Pixels of a chart that are neither background white nor the frame's grey: the
    plotted lines (the axis labels are a few dozen pixels at most)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return int((spread > 60).sum())  # saturated: a series colour, not grey text


def test_charts_render_with_data(browser: Any, served: tuple[str, Any]) -> None:
    base_url, deps = served
    _history(base_url, deps)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(base_url + "/")
        page.fill("#key", ADMIN)
        page.click("#login button[type=submit]")
        rendered = _wait_rendered(page, 6)
        for chart in CHARTS:
            points = int(page.get_attribute(f"#{chart}", "data-points") or 0)
            assert points >= 2, chart
            ink = _ink(page.locator(f"#{chart}").screenshot())
            assert ink > 150, f"{chart}: {ink} coloured pixels"
        assert "s7" in page.inner_text("#syncs")
        assert "price missing" in page.inner_text("#dead")
        assert "searches in 5 min" in page.inner_text("#search-summary")
        shown = page.inner_text("#alerts")
        assert "JobFailureRateHigh (quality-control)" in shown  # 1 in 5 failed
        assert "WorkerHeartbeatMissing (sync-seller)" in shown  # queued, never consumed
        assert "WorkerHeartbeatMissing (quality-control)" not in shown  # w1 is fresh
        if os.environ.get("OPS_DASHBOARD_SCREENSHOT"):
            page.screenshot(path=os.environ["OPS_DASHBOARD_SCREENSHOT"], full_page=True)
        # The key survives a reload (sessionStorage), and it refreshes by itself.
        # (each refresh takes a sample: the interval is 50 ms here)
        _wait_rendered(page, rendered + 1)
        page.reload()
        _wait_rendered(page, 6)
        assert errors == []
    finally:
        page.close()


def test_wrong_key_asks_again(browser: Any, served: tuple[str, Any]) -> None:
    base_url, _ = served
    page = browser.new_page()
    try:
        page.goto(base_url + "/")
        assert page.is_visible("#login") and not page.is_visible("#board")
        page.fill("#key", "not-the-admin-key")
        page.click("#login button[type=submit]")
        page.wait_for_selector("#login-error:has-text('not an admin key')", timeout=20_000)
        assert page.is_visible("#login")
    finally:
        page.close()
