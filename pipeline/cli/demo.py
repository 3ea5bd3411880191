"""``catalog-sync demo``: the whole system on one machine, offline, on embedded defaults.

Starts the sample catalog site, a worker (Ray, SigLIP replicas, Chromium), syncs the
site's sellers with a progress bar per stage, serves the API on Ray Serve, prints a few
searches and the URLs to try, and keeps serving until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import click
from rich.console import Console

from pipeline.cli.common import configure_logging, settings_from
from pipeline.cli.pipeline_cmds import print_results
from pipeline.cli.progress import sync_summary, watch_syncs
from pipeline.runtime import Runtime
from pipeline.search import SearchFilters, SearchResponse
from pipeline.settings import Settings

DEMO_QUERIES = ("ceramic mug", "merino wool scarf", "leather wallet")


def _choose_model(settings: Settings, console: Console) -> Settings:
    """The configured SigLIP if its weights are at hand, else the tiny model, said plainly."""
    from pipeline.embedding.models import weights_available

    if weights_available(settings.siglip):
        return settings
    if os.environ.get("SIGLIP_MODEL") or os.environ.get("SIGLIP_CHECKPOINT"):
        raise click.ClickException(
            f"SigLIP weights for {settings.siglip.model} are not available offline: set "
            "SIGLIP_CHECKPOINT to a local open_clip checkpoint, or unset SIGLIP_MODEL"
        )
    console.print(
        f"[yellow]No {settings.siglip.model} weights are cached on this machine, so the demo "
        "uses the tiny untrained SigLIP: keyword (BM25) search is real, vector and photo "
        "similarity are meaningless. Set SIGLIP_CHECKPOINT for real vectors.[/yellow]"
    )
    return settings.with_overrides(siglip={"model": "tiny"})


async def _searches(settings: Settings, queries: tuple[str, ...]) -> list[SearchResponse]:
    from pipeline.embedding.local import LocalSiglipEmbedder
    from serve.app import build_deps
    from serve.encoder import EmbedderQueryEncoder

    embedder = LocalSiglipEmbedder.from_settings(settings)
    deps = build_deps(settings, EmbedderQueryEncoder(embedder))
    try:
        return [await deps.searcher.search_text(q, SearchFilters(), limit=5) for q in queries]
    finally:
        await deps.aclose()
        await embedder.aclose()


@click.command()
@click.option("--no-serve", is_flag=True, help="Exit after the sync and searches.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="API port.")
@click.option("--bulk", type=click.IntRange(0, 100_000), default=40, show_default=True,
              help="Products of the sample site's bulk seller.")  # fmt: skip
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, port: int | None, bulk: int) -> None:
    """Sync the sample catalog and answer searches, on embedded defaults, offline."""
    from pipeline.ledger import RedisLedger
    from pipeline.sample_site.server import SampleSite
    from pipeline.syncs import start_sync, sync_view
    from pipeline.worker import BackgroundWorker, ensure_ray

    console = Console()
    settings = settings_from(ctx)
    configure_logging(settings.with_overrides(core={"log_level": "WARNING"}))
    settings = _choose_model(settings, console)
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(SampleSite(bulk_products=bulk))
        allowed = (*settings.catalog.allowed_hosts, site.netloc)
        settings = settings.with_overrides(catalog={"allowed_hosts": allowed})
        console.print(f"sample catalog site: {site.base_url}")
        runtime = stack.enter_context(Runtime(settings))
        client = runtime.redis()
        started_ray = ensure_ray(settings)
        if started_ray:
            import ray

            stack.callback(ray.shutdown)
        console.print("starting the worker (Ray, SigLIP replicas, Chromium) ...")
        worker = BackgroundWorker(settings).start()
        stack.callback(worker.stop)

        ledger = RedisLedger(client, settings.jobs)
        syncs = {
            seller.phone: start_sync(
                ledger, client, seller.phone, f"{site.base_url}/c/{seller.phone}"
            ).sync_id
            for seller in site.catalog.sellers()
        }
        finals = watch_syncs(lambda sid: sync_view(ledger, client, sid), syncs, console)
        console.print(sync_summary(finals))

        for query, resp in zip(DEMO_QUERIES, asyncio.run(_searches(settings, DEMO_QUERIES)),
                               strict=True):  # fmt: skip
            print_results(console, resp, f"search: {query}")
        if no_serve:
            return

        from serve.runner import start_api, stop_api, wait_for_interrupt

        url = start_api(settings, settings.api.host, port or settings.api.port)
        stack.callback(stop_api)
        console.print(
            f"\nsearch:   {url}/search\n"
            f"API:      {url}/v1/search?q=mug\n"
            f"docs:     {url}/docs\n"
            f"ready:    {url}/readyz\n"
            f"catalog:  {site.base_url}\n"
            "Ctrl-C to stop."
        )
        wait_for_interrupt()
