"""``catalog-sync search``: the running API's hits when one answers (``--api URL``, or the
local one at ``API_PORT``), else a search here over ``DATA_DIR`` with the demo's tiny-model
fallback and its warning, which starts no Milvus server.

Real processes: the CLI runs as ``python -m serve.cli``; the API is the FastAPI app over
real Redis, Milvus Lite and tantivy, served by uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from pipeline.keyword.factory import open_keyword_index
from pipeline.local.services import free_port, run_dir
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import ProductRecord, QCDecision, QCVerdict
from pipeline.runtime import Runtime
from pipeline.search_setup import DeferredQueryEncoder
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from tests.appserver import ThreadedUvicorn
from tests.cli.clirun import cli, cli_env

FALLBACK = "uses the tiny untrained SigLIP"


def shelve(settings: Settings, seller: str, names: list[str]) -> None:
    """Live products in the settings' Redis namespace and keyword index, as a sync
    leaves them (approved, then indexed)."""
    assert settings.redis.url is not None
    client = redis.Redis.from_url(settings.redis.url.get_secret_value())
    products = RedisProductStore(client, settings.redis.keys)
    writer = open_keyword_index(settings, writable=True)
    try:
        for i, name in enumerate(names):
            rec = ProductRecord(
                product_id=ProductRecord.make_id(seller, f"r{i}"),
                seller_id=seller,
                retailer_id=f"r{i}",
                name=name,
                price=Decimal("12.50"),
                currency="USD",
                image_urls=(f"http://shop.example/{i}.jpg",),
                source_url=f"http://shop.example/p/{seller}/r{i}",
            )
            products.put_many([rec])
            verdict = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")
            products.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict)
            stored = products.get(rec.product_id)
            assert stored is not None
            writer.upsert([keyword_doc(stored)])
            products.mark_indexed(rec.product_id, rec.content_hash)
        writer.refresh()
    finally:
        writer.close()
        client.close()


def cli_settings(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """The CLI's environment: its own data directory and Redis namespace, the tiny model
    absent from an empty hub cache, no API at the default port."""
    (tmp_path / "hub").mkdir(exist_ok=True)
    return {
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": "cli",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "API_PORT": str(free_port()),
    }


def test_without_an_api_it_searches_here_with_the_tiny_model_and_says_so(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    env = cli_settings(tmp_path, redis_url)
    here = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path / "data"}, redis={"url": redis_url, "namespace": "cli"}
    )
    shelve(here, "s9", ["Green enamel camping mug", "Wool blanket"])
    sellers = RedisSellerDirectory(redis_client, here.redis.keys)
    sellers.upsert("s9", display_name="Trail Goods")
    done = cli(tmp_path, "search", "camping mug", **env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert FALLBACK in " ".join(done.stderr.split())
    assert "Green enamel camping mug" in done.stdout and "Wool blanket" not in done.stdout
    assert "Trail Goods" in done.stdout  # the seller as the shop names itself, not its id
    assert " via " not in done.stdout
    # Words with the tiny model are BM25 alone: no Milvus server was started for them.
    assert not (run_dir(tmp_path / "data") / "milvus.json").exists()
    assert not (tmp_path / "data" / "milvus").exists()

    forced = cli(tmp_path, "search", "camping mug", "--local", **env)
    assert forced.returncode == 0 and "Green enamel camping mug" in forced.stdout


# The command in a process that says afterwards which heavy libraries it imported.
IMPORTS = """
import sys
from serve.cli import main
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("imported:", sorted(m for m in ("torch", "open_clip", "pymilvus", "ray") if m in sys.modules))
"""


def test_a_search_by_words_here_imports_no_model_no_milvus_client_and_no_ray(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, "search", "mug"],
        env=cli_env(tmp_path, **cli_settings(tmp_path, redis_url)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert FALLBACK in " ".join(done.stderr.split())
    assert done.stdout.strip().endswith("imported: []"), done.stdout[-500:]


def test_an_api_that_does_not_answer_is_an_error_when_named(tmp_path: Path, redis_url: str) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = cli(tmp_path, "search", "mug", "--api", nobody, **cli_settings(tmp_path, redis_url))
    assert done.returncode == 2
    assert f"Error: no API at {nobody}: start it (catalog-sync serve) or drop --api" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    bad = cli(tmp_path, "search", "mug", "--api", "ftp://x", **cli_settings(tmp_path, redis_url))
    assert bad.returncode == 2 and "is not an http(s) URL" in bad.stderr


class NotTheApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>Not Found</h1>")

    def log_message(self, *args: object) -> None:
        pass


def test_another_server_at_the_api_address_is_named_and_not_searched_past(
    tmp_path: Path, redis_url: str
) -> None:
    env = cli_settings(tmp_path, redis_url)
    server = ThreadingHTTPServer(("127.0.0.1", int(env["API_PORT"])), NotTheApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = cli(tmp_path, "search", "mug", **env)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 2, done.stdout
    url = f"http://127.0.0.1:{env['API_PORT']}"
    assert f"{url} answered 404, but not as the catalog-sync API does" in done.stderr
    assert "--local searches here instead" in done.stderr


@pytest.fixture
def api(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> Iterator[str]:
    """The API over its own data directory and Redis namespace, with one product."""
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path / "api-data"},
        redis={"url": redis_url, "namespace": "api"},
        siglip={"model": "tiny"},
    )
    from serve.app import build_deps, create_api

    shelve(settings, "s1", ["Red ceramic coffee mug", "Brass desk lamp"])
    encoder = DeferredQueryEncoder(settings)
    deps = build_deps(settings, encoder, Runtime(settings))
    with ThreadedUvicorn(create_api(deps)) as server:
        yield server.base_url
    asyncio.run(encoder.aclose())


@pytest.mark.slow
def test_a_running_api_answers_at_the_named_and_at_the_default_address(
    tmp_path: Path, redis_url: str, api: str
) -> None:
    env = cli_settings(tmp_path, redis_url)
    named = cli(tmp_path, "search", "coffee mug", "--api", api, **env)
    assert named.returncode == 0, named.stderr[-3000:]
    assert "Red ceramic coffee mug" in named.stdout and f"via {api}" in named.stdout
    assert "Brass desk lamp" not in named.stdout
    assert FALLBACK not in " ".join(named.stderr.split())

    env["API_PORT"] = api.rsplit(":", 1)[1]
    default = cli(tmp_path, "search", "coffee mug", **env)
    assert default.returncode == 0, default.stderr[-3000:]
    assert "Red ceramic coffee mug" in default.stdout and f"via {api}" in default.stdout

    # Here, over the CLI's own (empty) data, the same words find nothing.
    local = cli(tmp_path, "search", "coffee mug", "--local", **env)
    assert local.returncode == 0, local.stderr[-3000:]
    assert "Red ceramic coffee mug" not in local.stdout and "no live product matches" in (
        local.stdout
    )
