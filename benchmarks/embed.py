"""SigLIP embedding throughput: the bare model per replica, and the whole embed stage.

1. Bare model: images/s and texts/s of one replica (one SiglipRunner with the replica's
   torch threads) at batch sizes 1, 8, 32, 64, on pre-decoded pixels.
2. End to end: products of the sample site (pipeline.sample_site, served on loopback)
   through EmbedStage as a sync leaves them (each image checked and kept in the image
   store by the scrape, its hash in the record): read the stored bytes, decode on a
   thread pool, embed on one SiglipEmbedder Ray actor, upsert into Milvus Lite. Its
   products/s divided by the bare images/s at the best batch size is the ratio to watch
   (goal >= 0.8).

Models: ``tiny`` (the untrained test model) and ``ViT-B-16-SigLIP`` with random weights
(same architecture and cost as the real one; nothing is downloaded).

    .venv/bin/python benchmarks/embed.py --quick
    .venv/bin/python benchmarks/embed.py --device cuda --models full

Prints a table and writes benchmarks/results/embed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pipeline.embedding.models import load_siglip  # noqa: E402
from pipeline.embedding.runner import SiglipRunner  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

MODELS = {"tiny": "tiny", "full": "ViT-B-16-SigLIP"}
RESULTS = Path(__file__).resolve().parent / "results"


def timed_rate(fn: Any, items: int, min_seconds: float, max_iters: int) -> float:
    """Items per second over repeated calls (at least one, until min_seconds)."""
    fn()  # warm-up: allocator, kernels, autocast caches
    iters, start = 0, time.perf_counter()
    while iters < max_iters:
        fn()
        iters += 1
        if time.perf_counter() - start >= min_seconds:
            break
    return items * iters / (time.perf_counter() - start)


def bare_rates(
    settings: Settings, batches: list[int], threads: int, quick: bool
) -> list[dict[str, Any]]:
    cfg = settings.siglip
    loaded = load_siglip(cfg, random_weights=not cfg.is_tiny)
    runner = SiglipRunner(loaded, device=cfg.device.value, precision=cfg.precision, threads=threads)
    rng = np.random.default_rng(0)
    words = "red blue linen leather ceramic handmade lamp shirt mug bag necklace".split()
    rows = []
    for batch in batches:
        pixels = rng.integers(0, 256, (batch, 224, 224, 3), dtype=np.uint8)
        texts = [" ".join(rng.choice(words, 12)) for _ in range(batch)]
        heavy = not cfg.is_tiny and runner.device == "cpu"
        seconds = 0.5 if quick else (1.0 if heavy else 3.0)
        iters = 1 if heavy else 50
        rows.append(
            {
                "model": cfg.model,
                "batch": batch,
                "images_per_s": timed_rate(
                    lambda p=pixels: runner.embed_pixels(p), batch, seconds, iters
                ),
                "texts_per_s": timed_rate(
                    lambda t=texts: runner.embed_texts(t), batch, seconds, iters
                ),
                "device": runner.device,
                "precision": runner.precision,
                "threads": threads,
            }
        )
        print(f"  bare {cfg.model} batch {batch}: {rows[-1]['images_per_s']:.1f} img/s", flush=True)
    return rows


def sample_products(site: Any, count: int) -> list[Any]:
    from pipeline.records import ProductRecord

    bulk = next(s for s in site.catalog.sellers() if s.name == "Bulk Seller")
    records = []
    for item in bulk.products[:count]:
        key = item.image_keys()[0]
        records.append(
            ProductRecord(
                product_id=ProductRecord.make_id(bulk.phone, item.retailer_id),
                seller_id=bulk.phone,
                retailer_id=item.retailer_id,
                name=item.name,
                description=item.description,
                price=item.price,
                currency=item.currency,
                image_urls=(f"{site.base_url}/img/{bulk.phone}/{key}.jpg",),
                source_url=f"{site.base_url}/p/{bulk.phone}/{item.retailer_id}",
            )
        )
    return records


def _stored(settings: Settings, records: list[Any]) -> list[Any]:
    """``records`` as the scrape leaves them: each image's bytes in the image store
    (downloaded once here, outside the timing), its SHA-256 in the record."""
    import urllib.request

    from pipeline.blobs import open_blob_store

    blobs = open_blob_store(settings)
    out = []
    try:
        for record in records:
            with urllib.request.urlopen(record.image_urls[0], timeout=10) as answer:
                digest = blobs.put(answer.read())
            out.append(record.model_copy(update={"image_hashes": (digest,)}))
    finally:
        blobs.close()
    return out


def _site_process(site: Any, bulk: int) -> Any:
    """Serve the sample site from its own process, as a seller's host would be: in this
    process its threads would hold our GIL. Its JPEGs are requested once up front."""
    import subprocess
    import urllib.request

    from pipeline.local.services import free_port

    site.port = free_port()
    code = (
        "from pipeline.sample_site.server import SampleSite; "
        f"SampleSite(port={site.port}, bulk_products={bulk}).serve_forever()"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(site.base_url + "/", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    for record in sample_products(site, bulk):
        with urllib.request.urlopen(record.image_urls[0], timeout=10) as answer:
            answer.read()  # the site caches its generated JPEGs
    return proc


def end_to_end(settings: Settings, products: int, threads: int) -> dict[str, Any]:
    """Products/s from the sample site to Milvus Lite through one SiglipEmbedder actor."""
    import ray

    from pipeline.embedding.actors import RaySiglipEmbedder
    from pipeline.embedding.stage import EmbedFailure, EmbedStage, vector_rows
    from pipeline.sample_site.server import SampleSite
    from pipeline.vectors.milvus import MilvusVectorStore

    site = SampleSite(bulk_products=max(products, 10))  # its catalog, for the product list
    server = _site_process(site, max(products, 10))
    store = MilvusVectorStore.from_settings(
        settings.with_overrides(milvus={"collection": f"bench_{uuid.uuid4().hex[:8]}"})
    )
    embedder = RaySiglipEmbedder.start(
        settings, replicas=1, num_cpus=threads, random_weights=not settings.siglip.is_tiny
    )
    try:
        records = _stored(settings, sample_products(site, products))

        async def run(batch: list[Any]) -> tuple[int, int]:
            stage = EmbedStage.from_settings(settings, embedder)
            try:
                results = await stage.run(batch)
            finally:
                await stage.aclose()
            store.upsert(vector_rows(batch, results))
            return len(results), sum(isinstance(r, EmbedFailure) for r in results)

        warm = records[: min(8, len(records))]
        asyncio.run(asyncio.wait_for(run(warm), 600))  # model, pools, connections
        start = time.perf_counter()
        done, failed = asyncio.run(asyncio.wait_for(run(records), 1800))
        elapsed = time.perf_counter() - start
        sizes = embedder.batch_sizes()
        asyncio.run(embedder.aclose())
    finally:
        store.drop()
        store.close()
        server.terminate()
        server.wait(timeout=10)
        ray.shutdown()
    return {
        "model": settings.siglip.model,
        "products": done,
        "failed": failed,
        "seconds": elapsed,
        "products_per_s": done / elapsed,
        "replica_batch_sizes": {str(k): v for k, v in sizes[0]["images"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--models", default="tiny,full", help="comma list of tiny,full")
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--products", type=int, default=0, help="end-to-end products (0: auto)")
    parser.add_argument("--decode-workers", type=int, default=4)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument(
        "--polite", action="store_true", help="keep the default per-host rate limit (25/s)"
    )
    args = parser.parse_args()

    import ray

    batches = [int(b) for b in args.batches.split(",")]
    catalog: dict[str, Any] = {"allowed_hosts": ("127.0.0.1",)}
    if not args.polite:
        # One loopback host stands in for many sellers' hosts: lift the per-host politeness
        # budget (25 requests/s by default), or it, not our pipeline, is what gets measured.
        catalog.update(per_host_rate=100_000.0, per_host_concurrency=64)
    bare: list[dict[str, Any]] = []
    e2e: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as data_dir:
        for key in args.models.split(","):
            model = MODELS[key.strip()]
            heavy = model != "tiny" and args.device != "cuda"
            model_batches = [b for b in batches if b <= 8] if (heavy and args.quick) else batches
            settings = Settings().with_overrides(
                core={"data_dir": Path(data_dir)},
                siglip={
                    "model": model,
                    "device": args.device,
                    "max_batch_size": max(batches),
                    "batch_wait_ms": 20,
                    "decode_workers": args.decode_workers,
                    "request_timeout": 900,
                },
                catalog=catalog,
            )
            print(f"model {model}: bare rates", flush=True)
            rows = bare_rates(settings, model_batches, args.threads, args.quick)
            bare += rows
            if args.skip_e2e:
                continue
            count = args.products or (
                (16 if args.quick else 48) if heavy else (200 if args.quick else 1000)
            )
            print(f"model {model}: end to end, {count} products", flush=True)
            ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False)
            result = end_to_end(settings, count, args.threads)
            best = max(rows, key=lambda r: r["images_per_s"])
            result["bare_best_images_per_s"] = best["images_per_s"]
            result["bare_best_batch"] = best["batch"]
            result["ratio"] = result["products_per_s"] / best["images_per_s"]
            e2e.append(result)

    print_tables(bare, e2e)
    RESULTS.mkdir(exist_ok=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "shared": True},
        "args": vars(args),
        "bare": bare,
        "end_to_end": e2e,
    }
    (RESULTS / "embed.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'embed.json'}")


def print_tables(bare: list[dict[str, Any]], e2e: list[dict[str, Any]]) -> None:
    print("\n| model | device | precision | threads | batch | images/s | texts/s |")
    print("|---|---|---|---|---|---|---|")
    for r in bare:
        print(
            f"| {r['model']} | {r['device']} | {r['precision']} | {r['threads']} | {r['batch']} "
            f"| {r['images_per_s']:.1f} | {r['texts_per_s']:.1f} |"
        )
    if e2e:
        print("\n| model | products | failed | products/s | bare best img/s (batch) | ratio |")
        print("|---|---|---|---|---|---|")
        for r in e2e:
            print(
                f"| {r['model']} | {r['products']} | {r['failed']} | {r['products_per_s']:.1f} "
                f"| {r['bare_best_images_per_s']:.1f} ({r['bare_best_batch']}) | {r['ratio']:.2f} |"
            )


if __name__ == "__main__":
    main()
