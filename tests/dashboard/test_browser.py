"""The dashboard in headless Chromium at a phone's width (360 px) and a desktop's
(1280 px): a dead letter's detail (payload, error, traceback), replay and purge after a
confirmation that says how many (checked in the ledger), workers, per-seller outcomes,
per-chart legends, tooltips, readable empty axes, and no horizontal scroll at 360 px."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.records import JobState
from tests.browser import chromium
from tests.dashboard.conftest import ADMIN, INDEX, Dash, dead_letter, finished_sync

pytestmark = pytest.mark.slow

VIEWPORTS = {"phone": (360, 740), "desktop": (1280, 900)}
AXIS_LABEL = re.compile(r"^\d+(\.\d+)?( ms|%)?$")  # "5", "10 ms", "100%": never "1.1e-9"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Any, dash: Dash) -> Iterator[Any]:
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(
        base_url=dash.base_url, viewport={"width": width, "height": height}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    shot = os.environ.get("DASHBOARD_SCREENSHOTS")
    if shot:
        page.screenshot(path=f"{shot}/{request.node.name}.png", full_page=True)
    context.close()
    assert errors == [], errors  # CSP violations and script errors included


def login(page: Any) -> None:
    page.goto("/")
    page.fill("#key", ADMIN)
    page.click("#login button[type=submit]")
    page.wait_for_selector("body[data-rendered]", state="attached")


def no_horizontal_scroll(page: Any) -> None:
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at a {width} px viewport"


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_detail_replay_and_purge_by_seller(page: Any, dash: Dash) -> None:
    ledger = dash.ledger
    mine = dead_letter(ledger, "shop-1", 1)
    theirs = [dead_letter(ledger, "shop-2", 2), dead_letter(ledger, "shop-2", 3, job_type=INDEX)]
    login(page)
    row = page.locator(f'#dead tr[data-job-id="{mine}"]')
    row.wait_for()
    assert "PermanentError: price missing for shop-1:p1" in row.inner_text()
    no_horizontal_scroll(page)

    row.get_by_role("button", name="details").click()
    dialog = page.locator("#job-dialog")
    dialog.wait_for()
    assert '"product_id": "shop-1:p1"' in page.inner_text("#job-payload")
    assert page.inner_text("#job-error") == "PermanentError: price missing for shop-1:p1"
    assert page.is_visible("#job-traceback")
    assert "_check_price" in page.inner_text("#job-traceback")
    assert "Traceback (most recent call last)" in page.inner_text("#job-traceback")
    assert "w1" in page.inner_text("#job-attempts")
    no_horizontal_scroll(page)

    page.click("#job-replay")
    page.locator("#confirm-dialog").wait_for()
    assert page.get_attribute("#confirm-dialog", "data-count") == "1"
    assert "Replay 1 dead letter job" in page.inner_text("#confirm-text")
    assert ledger.dlq_get(mine) is not None  # nothing happens before the confirmation
    page.click("#confirm-ok")
    page.wait_for_selector("#dlq-message:has-text('replayed 1 dead letter')")
    job = ledger.get(mine)
    assert job is not None and job.state is JobState.WAITING
    assert not dialog.is_visible()
    page.locator(f'#dead tr[data-job-id="{mine}"]').wait_for(state="detached")

    page.fill("#dlq-seller", "shop-2")
    page.click("#dlq-filter button[type=submit]")
    page.wait_for_selector("#dead-total[data-total='2']")
    page.click("#dlq-purge-matching")
    page.locator("#confirm-dialog").wait_for()
    assert page.get_attribute("#confirm-dialog", "data-count") == "2"
    assert "2 dead letters of seller shop-2" in page.inner_text("#confirm-text")
    page.click("#confirm-cancel")  # cancelled: nothing purged
    assert not page.is_visible("#confirm-dialog")
    assert ledger.dlq_count(seller_id="shop-2") == 2
    page.click("#dlq-purge-matching")
    page.click("#confirm-ok")
    page.wait_for_selector("#dlq-message:has-text('purged 2 dead letter')")
    assert all(ledger.get(j) is None for j in theirs)
    assert ledger.get(mine) is not None  # another seller's job: untouched
    eventually(lambda: page.get_attribute("#dead-total", "data-total") == "0", "an empty list")
    no_horizontal_scroll(page)


def test_workers_sellers_legends_tooltips_and_axes(page: Any, dash: Dash) -> None:
    finished_sync(dash.deps, "shop-1")
    dead_letter(dash.ledger, "shop-1", 1, consumer="worker-a")
    login(page)
    page.wait_for_selector("#workers td:has-text('worker-a')")
    workers = page.inner_text("#workers")
    assert "quality-control" in workers and "alive" in workers and "s ago" in workers
    seller = page.locator('#sellers tr[data-seller="shop-1"]')
    cells = [c.strip() for c in seller.locator("td").all_inner_texts()]
    assert cells[:7] == ["shop-1", "completed", "2", "1", "1", "0", "0"]
    seller.locator("summary").click()
    skipped = seller.locator("details").inner_text()
    assert "2 x no price" in skipped and "1 x image answered 404" in skipped
    assert "Lamp: image answered 404" in skipped

    # Each chart has its own legend: job types for the ledger's, p50/p95 for latency.
    types = page.locator("#legend-depth li").all_inner_texts()
    assert "quality-control" in types and "p50" not in types
    failures = page.locator("#legend-failures li").all_inner_texts()
    assert "quality-control" in failures and set(failures) <= set(types)
    assert page.locator("#legend-latency li").all_inner_texts() == ["p50", "p95"]
    # Readable axes: nothing waits (depth is all zero), no search ran (latency is empty).
    labels = {c: page.get_attribute(f"#chart-{c}", "data-ymax") for c in
              ("depth", "throughput", "failures", "latency")}  # fmt: skip
    assert all(AXIS_LABEL.match(v or "") for v in labels.values()), labels
    assert labels["depth"] == "5" and labels["latency"] == "10 ms"
    assert labels["failures"] == "100%"  # the one finished QC attempt failed

    canvas = page.locator("#chart-depth")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    canvas.hover(position={"x": box["width"] * 0.9, "y": box["height"] / 2})
    tip = page.locator("#chart-depth + .tooltip")
    tip.wait_for()
    assert "quality-control: 0" in tip.inner_text()
    tip_box = tip.bounding_box()
    assert (
        box["x"] <= tip_box["x"] and tip_box["x"] + tip_box["width"] <= box["x"] + box["width"] + 1
    )
    no_horizontal_scroll(page)
