"""Debian's Chromium under Playwright's sync API, with the scraper's launch arguments: the
browser of the page and dashboard tests (skipped where it is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pipeline.sources.browser import DEBIAN_CHROMIUM, LAUNCH_ARGS


@contextmanager
def chromium() -> Iterator[Any]:
    if not DEBIAN_CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium is not installed at {DEBIAN_CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(DEBIAN_CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
