"""Executes notebooks/backfill.ipynb on a small table in a separate kernel process.

The kernel starts its own local Ray (its own temp dir, 2 CPUs) so it cannot meet the test
session's Ray; Redis is the test redis-server; Milvus Lite and the keyword index live in
this test's DATA_DIR. Images come from a local HTTP server (allow-listed)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
import redis
from nbclient import NotebookClient

from pipeline.keyword.base import KeywordFilter
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobState, ProductRecord
from pipeline.sample_site.images import product_jpeg
from pipeline.settings import Settings
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.redis_keys import RedisKeys
from tests.keys import KEYS

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "backfill.ipynb"
ROWS = 10


@pytest.fixture
def image_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1].removesuffix(".jpg")
            if name.startswith("missing"):
                self.send_error(404)
                return
            body = product_jpeg(name)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def product(i: int, host: str, image: str | None = None) -> ProductRecord:
    return ProductRecord(
        product_id=ProductRecord.make_id("s1", f"r{i}"),
        seller_id="s1",
        retailer_id=f"r{i}",
        name=f"Handmade item number {i}" + (" lantern" if i == 3 else ""),
        description="from the backfill table",
        price=Decimal("12.99") + i,
        currency="USD",
        image_urls=(f"http://{host}/img/{image or f'p{i}'}.jpg",),
        source_url="https://shop.example/c/s1",
    )


def inject(nb: nbformat.NotebookNode, params: dict[str, object]) -> None:
    """Papermill's way: a cell after the one tagged ``parameters`` overrides it."""
    index = next(
        i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    )
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_backfill_notebook(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, image_server: str
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings.defaults().with_overrides(
        core={"data_dir": data_dir},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
        catalog={"allowed_hosts": (image_server,)},
    )
    records = [product(i, image_server) for i in range(ROWS)]
    broken = product(ROWS, image_server, image="missing")
    table = tmp_path / "catalog.jsonl"
    lines = [r.model_dump_json() for r in [*records, broken]]
    bad = json.loads(lines[0])
    bad.update(product_id="bad id!", retailer_id="bad")
    lines.append(json.dumps(bad))
    table.write_text("\n".join(lines) + "\n")
    # One product is already approved in the store: the backfill keeps its status.
    store = RedisProductStore(redis_client, KEYS)
    store.put_many([records[3]])
    store.set_status(records[3].product_id, records[3].content_hash, ProductStatus.APPROVED)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    ray_tmp = tempfile.mkdtemp(prefix="rbf", dir="/tmp")  # short: Ray's socket paths
    inject(
        nb,
        {
            "TABLE_PATH": str(table),
            "RUN_ID": "test-run",
            "DATA_DIR": str(data_dir),
            "REDIS_URL": redis_url,
            "SIGLIP_MODEL": "tiny",
            "ALLOWED_HOSTS": image_server,
            "RAY_NUM_CPUS": 2,
            "RAY_TEMP_DIR": ray_tmp,
            "EMBED_NUM_CPUS": 0.5,
            "BATCH_SIZE": 4,
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute(env=env)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
        nbformat.write(nb, tmp_path / "executed.ipynb")  # for a look after a failure

    ledger = RedisLedger(redis_client, settings.jobs, keys=RedisKeys("backfill"))
    job = ledger.get(ledger.dlq_list(limit=1)[0].id) if ledger.dlq_list(limit=1) else None
    assert job is None, job
    key = redis_client.get("backfill:idem:backfill:test-run")
    assert key is not None
    run = ledger.get(key.decode())
    assert run is not None and run.state is JobState.COMPLETED and run.progress == 100.0
    assert run.result is not None
    assert run.result["written"] == ROWS, run.result["examples"]
    assert run.result["skipped"] == 2
    assert run.result["errors"] == {"image": 1, "invalid record": 1}, run.result["examples"]
    vectors = MilvusVectorStore.from_settings(settings)
    try:
        assert vectors.count() == ROWS
        (row,) = vectors.fetch([records[3].product_id])
        assert row.status == "approved" and row.image_vector.shape == (768,)
    finally:
        vectors.close()
    keywords = open_keyword_index(settings, writable=False)
    try:
        assert keywords.count() == ROWS
        hits = keywords.search("lantern", filters=KeywordFilter(), limit=10)
        assert [h.product_id for h in hits] == [records[3].product_id]
    finally:
        keywords.close()
    stored = store.get(records[5].product_id)
    assert stored is not None and stored.status is ProductStatus.PENDING
    assert store.get(records[3].product_id).status is ProductStatus.APPROVED  # type: ignore[union-attr]
