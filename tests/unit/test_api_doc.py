"""docs/api.md documents every route the API app serves, and no route it does not serve.

The app is built by ``create_api`` as the Serve ingress builds it, on the session's real
Redis and an embedded keyword index; the vector store and the query encoder stand in
as placeholders (``tests.lightapi``), since no request is made (building the routes
never touches them, and Milvus Lite would cost seconds). A route is documented by a
heading of docs/api.md that starts with ``METHOD /path`` (the path as the app spells it,
``{param}`` included).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from pipeline.settings import Settings
from serve.app import create_api
from tests.lightapi import light_deps

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# "### `GET /v1/search`" or "### GET /v1/search ..."; the path ends at a space or backtick.
HEADING = re.compile(r"^#{2,4}\s+`?(" + "|".join(METHODS) + r")\s+(/[^\s`]*)", re.MULTILINE)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[FastAPI]:
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("api-doc")},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
    )
    deps = light_deps(settings, redis_url)
    yield create_api(deps)
    asyncio.run(deps.aclose())


def documented() -> set[tuple[str, str]]:
    return {(m.group(1), m.group(2)) for m in HEADING.finditer(DOC.read_text(encoding="utf-8"))}


def served(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, those left out of the schema included."""
    out: set[tuple[str, str]] = set()
    # FastAPI keeps included routers as branches; this walks them with their prefixes.
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            out.add(("GET", f"{context.path}/{{path}}"))  # a static mount, as a pattern
        elif context.path is not None:
            out.update((m, context.path) for m in (context.methods or ()) if m in METHODS)
    return out


def in_schema(app: FastAPI) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(m.upper(), path) for path, ops in paths.items() for m in ops if m.upper() in METHODS}


def test_every_served_route_is_documented(app: FastAPI) -> None:
    routes = served(app)
    assert ("GET", "/v1/search") in routes and ("GET", "/openapi.json") in routes
    missing = sorted(routes - documented())
    assert not missing, f"routes missing from {DOC.name} (add '### METHOD /path'): {missing}"


def test_every_schema_operation_is_documented(app: FastAPI) -> None:
    assert in_schema(app) <= served(app)  # the schema cannot name a route the app lacks
    missing = sorted(in_schema(app) - documented())
    assert not missing, f"operations missing from {DOC.name}: {missing}"


def test_every_documented_route_is_served(app: FastAPI) -> None:
    stale = sorted(documented() - served(app))
    assert not stale, f"{DOC.name} documents routes the app does not serve: {stale}"


def test_the_heading_pattern_reads_a_route() -> None:
    # Guards the guard: a pattern that matched nothing would make every check above pass.
    text = "### `GET /v1/syncs/{sync_id}/events`\n#### POST /v1/search/image (multipart)\n"
    found = {(m.group(1), m.group(2)) for m in HEADING.finditer(text)}
    assert found == {("GET", "/v1/syncs/{sync_id}/events"), ("POST", "/v1/search/image")}
