"""Small holes at the API edge, each over real HTTP: a non-ASCII bearer token, a query
just over the keyword index's limit, a webhook URL whose refusal named its DNS answer,
and the defaults that listened on every interface or took any admin key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.keyword.base import MAX_QUERY_CHARS
from pipeline.settings import OpsSettings, Settings
from tests.reliability.edge import ADMIN, Served, edge_settings, serve_api

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    settings = edge_settings(
        Settings.defaults().with_overrides(
            core={"data_dir": tmp_path_factory.mktemp("edge-small")},
            redis={"url": redis_url},
            siglip={"model": "tiny"},
        ),
        rate_limit_per_minute=60_000,
    )
    with serve_api(settings) as running:
        yield running


@pytest.mark.parametrize(
    "token", [b"Bearer caf\xc3\xa9-key", b"Bearer \xff\xfe", "Bearer clé".encode("latin-1")]
)
def test_a_non_ascii_bearer_token_is_a_401(served: Served, token: bytes) -> None:
    with httpx.Client(base_url=served.base, timeout=30) as client:
        for method, path in (("GET", "/v1/queues"), ("POST", "/v1/sellers/s1/sync")):
            resp = client.request(method, path, headers={"Authorization": token}, json={})
            assert resp.status_code in (401, 422), (path, resp.status_code, resp.text)
        assert client.get("/v1/queues", headers={"Authorization": token}).status_code == 401


def test_one_query_length_limit_everywhere(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=30) as client:
        for n in (MAX_QUERY_CHARS - 1, MAX_QUERY_CHARS):
            assert client.get("/v1/search", params={"q": "a" * n}).status_code == 200
        for n in (MAX_QUERY_CHARS + 1, 505, 512):
            resp = client.get("/v1/search", params={"q": "a" * n})
            assert resp.status_code == 422, (n, resp.text[:200])
        # NFKC may lengthen a query (U+FDFA is 18 letters): still within the limit after.
        assert client.get("/v1/search", params={"q": "\ufdfa" * 100}).status_code == 200


def test_a_refused_webhook_url_names_no_address(served: Served) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=served.base, timeout=30) as client:
        for url in ("https://localhost/hook", "https://localhost:8443/x"):
            resp = client.put("/v1/sellers/hooked", json={"webhook_url": url}, headers=auth)
            assert resp.status_code == 422, resp.text
            assert "127.0.0.1" not in resp.text and "::1" not in resp.text, resp.text
            assert "resolves" in resp.text  # the rule, without the answer


def test_a_short_admin_key_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="API_ADMIN_KEY: .*at least 24 characters"):
        Settings.defaults().with_overrides(api={"admin_key": "hunter2"})
    Settings.defaults().with_overrides(api={"admin_key": "x" * 24})


def test_metrics_and_ray_dashboard_listen_on_loopback_by_default() -> None:
    assert OpsSettings.model_fields["metrics_host"].default == "127.0.0.1"
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    starts = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "0.0.0.0" not in starts
    assert "--dashboard-host=127.0.0.1" in starts


def test_docs_run_pinned_scripts_in_a_sandbox(served: Served) -> None:
    """The admin key lives in this origin's storage: /docs must not run a CDN's latest
    script with this origin's rights."""
    with httpx.Client(base_url=served.base, timeout=30) as client:
        page = client.get("/docs")
        assert client.get("/redoc").status_code == 404
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";")}
    assert directives["sandbox"] == "sandbox allow-scripts"  # no allow-same-origin
    assert directives["connect-src"] == "connect-src 'none'"
    sources = re.findall(r'<script[^>]*src="([^"]+)"', page.text)
    assert sources and all(re.search(r"@\d+\.\d+\.\d+/", src) for src in sources), sources
    assert all(src in directives["script-src"] for src in sources)
    assert '"openapi"' in page.text  # the schema is inlined: the sandbox cannot fetch it
