"""The sample site itself: real JPEGs, run-time changes, marked entries, the CLI."""

from __future__ import annotations

import hashlib
import io
import json

import httpx
from click.testing import CliRunner
from PIL import Image

from pipeline.cli.main import main
from pipeline.sample_site import SampleCatalog, SampleSite
from pipeline.sample_site.images import product_jpeg


def test_images_are_real_distinct_and_deterministic() -> None:
    keys = [f"p-{i}" for i in range(30)]
    blobs = [product_jpeg(k) for k in keys]
    assert len({hashlib.sha256(b).hexdigest() for b in blobs}) == 30
    assert product_jpeg("p-3") == blobs[3]
    with Image.open(io.BytesIO(blobs[0])) as image:
        assert image.format == "JPEG" and image.size == (320, 320)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is not None and len(colours) > 10


def test_marked_entries_are_listed_for_other_stages() -> None:
    catalog = SampleCatalog(bulk_products=5)
    broken = {p.broken for _, p in catalog.marked("broken")}
    policy = sorted(p.policy or "" for _, p in catalog.marked("policy"))
    assert broken == {"missing-name", "corrupt-image", "404-image"}
    assert policy == ["drug", "drug", "weapon", "zero-price"]
    assert len(catalog.seller("10000000000").products) == 5  # type: ignore[union-attr]


def test_catalog_changes_at_run_time_and_pages_are_served(site: SampleSite) -> None:
    with httpx.Client(base_url=site.base_url) as client:
        page = client.get("/api/catalog/919876543210", params={"offset": 0, "limit": 20}).json()
        assert len(page["products"]) == 16 and page["next_offset"] is None
        site.catalog.remove("919876543210", "ravi-0001")
        site.catalog.update("919876543210", "ravi-0002", name="New name")
        page = client.get("/api/catalog/919876543210").json()
        assert [p["id"] for p in page["products"]][:1] == ["ravi-0002"]
        assert page["products"][0]["name"] == "New name"
        assert client.get("/p/919876543210/ravi-0001").status_code == 404
        assert client.get("/img/919876543210/ravi-404-0.jpg").status_code == 404
        assert client.get("/feed/919876543210.xml").status_code == 404
        assert client.get("/api/catalog/919876543210?offset=abc").status_code == 400
        bulk = client.get("/api/catalog/10000000000", params={"offset": 180}).json()
        assert len(bulk["products"]) == 20 and bulk["next_offset"] is None


def test_scrape_command_prints_json_lines(site: SampleSite) -> None:
    env = {"CATALOG_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    url = f"{site.base_url}/feed/15551234567.jsonl"
    result = runner.invoke(main, ["scrape", url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 6 and {line["type"] for line in lines} == {"product"}
    assert lines[0]["price"] == "12" and lines[0]["currency"] == "USD"
    refused = runner.invoke(main, ["scrape", url], env={"CATALOG_ALLOWED_HOSTS": ""})
    assert refused.exit_code == 1 and "CATALOG_ALLOWED_HOSTS" in refused.output
    assert runner.invoke(main, ["sample-site", "--help"]).exit_code == 0
