"""Fixtures of the security tests: a real local HTTP server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.httpserver import TestServer, running_server


@pytest.fixture
def server() -> Iterator[TestServer]:
    with running_server() as srv:
        yield srv
