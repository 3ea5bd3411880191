"""``catalog-sync demo``: the whole system on one machine, offline, on embedded defaults.

Starts the sample catalog site, a worker (Ray, SigLIP replicas, Chromium), syncs the
site's sellers with a progress bar per stage, serves the API on Ray Serve, prints a few
searches and the URLs to try, and keeps serving until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib

import click
import redis
from rich.console import Console

from pipeline.cli.common import api_runner, choose_model, configure_logging, settings_from
from pipeline.cli.progress import outcome_lines, sync_summary, watch_syncs
from pipeline.cli.search_cmds import print_results
from pipeline.runtime import Runtime
from pipeline.search import SearchFilters, SearchResponse
from pipeline.settings import Settings

DEMO_QUERIES = ("ceramic mug", "merino wool scarf", "leather wallet")
SESSION_KEY_TTL_S = 24 * 3600  # outlives a demo session, not a forgotten laptop


def serving_lines(client: redis.Redis, settings: Settings, api_url: str, site_url: str) -> str:
    """What the demo prints once the API serves, with an admin key made for this session.

    The key is an ordinary stored key (``keys list`` shows it, ``keys revoke`` ends it)
    that expires after a day, so the dashboard can be opened without reading the code.
    """
    from pipeline.keys import ApiKeyStore

    key = ApiKeyStore(client, settings.redis.keys).create(
        seller_id=None, admin=True, ttl_s=SESSION_KEY_TTL_S
    )
    return (
        f"\nsearch:     {api_url}/search\n"
        f"dashboard:  {api_url}/\n"
        f"admin key:  {key}  (paste it into the dashboard; expires in 24 h)\n"
        f"API:        {api_url}/v1/search?q=mug\n"
        f"docs:       {api_url}/docs\n"
        f"ready:      {api_url}/readyz\n"
        f"catalog:    {site_url}\n"
        "Ctrl-C to stop."
    )


async def _searches(settings: Settings, queries: tuple[str, ...]) -> list[SearchResponse]:
    from pipeline.search_setup import local_searcher

    async with local_searcher(settings) as searcher:
        return [await searcher.search_text(q, SearchFilters(), limit=5) for q in queries]


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
    settings = choose_model(settings, console)
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

        ledger = RedisLedger(client, settings.jobs, keys=settings.redis.keys)
        syncs = {
            seller.phone: start_sync(
                ledger, client, seller.phone, f"{site.base_url}/c/{seller.phone}"
            ).sync_id
            for seller in site.catalog.sellers()
        }
        finals = watch_syncs(lambda sid: sync_view(ledger, client, sid), syncs, console)
        console.print(sync_summary(finals))
        for line in outcome_lines(finals):
            console.print(line, markup=False, highlight=False)

        for query, resp in zip(DEMO_QUERIES, asyncio.run(_searches(settings, DEMO_QUERIES)),
                               strict=True):  # fmt: skip
            print_results(console, resp, f"search: {query}")
        if no_serve:
            return

        api = api_runner(ctx)
        url = api.start_api(settings, settings.api.host, port or settings.api.port)
        stack.callback(api.stop_api)
        console.print(
            serving_lines(client, settings, url, site.base_url), markup=False, highlight=False
        )
        api.wait_for_interrupt()
