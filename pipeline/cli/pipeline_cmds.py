"""CLI: ``worker``, ``serve``, ``sync``, ``search``, ``keys``."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import configure_logging, settings_from
from pipeline.cli.progress import sync_summary, watch_syncs
from pipeline.errors import CatalogSyncError
from pipeline.records import Priority
from pipeline.runtime import Runtime
from pipeline.search import SearchFilters, SearchResponse
from pipeline.settings import Settings


def _run_until_signal(settings: Settings) -> None:
    from pipeline.worker import run_worker

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Claim jobs from the ledger and run them on Ray until Ctrl-C (or SIGTERM).

    Several workers (processes or machines) share the load; a stopped worker finishes
    or hands back what it claimed.
    """
    settings = settings_from(ctx)
    configure_logging(settings)
    _run_until_signal(settings)


@click.command()
@click.option("--host", default=None, help="Bind address (default API_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default API_PORT.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP API on Ray Serve until Ctrl-C."""
    settings = settings_from(ctx)
    configure_logging(settings)
    from pipeline.worker import ensure_ray
    from serve.runner import start_api, stop_api, wait_for_interrupt

    ensure_ray(settings)
    try:
        url = start_api(settings, host or settings.api.host, port or settings.api.port)
        click.echo(f"catalog-sync API at {url}  (OpenAPI docs: {url}/docs); Ctrl-C to stop")
        wait_for_interrupt()
    finally:
        stop_api()


@click.command()
@click.option("--seller", "seller_id", required=True, help="Seller id.")
@click.argument("url")
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "low"]),
    default=None,
    help="Default: the seller's tier (premium: high, standard: normal, basic: low).",
)
@click.option("--source", default="auto", show_default=True,
              type=click.Choice(["auto", "whatsapp", "graph", "storefront", "feed"]))  # fmt: skip
@click.option("--wait", is_flag=True, help="Show progress per stage until the sync ends.")
@click.pass_context
def sync(
    ctx: click.Context, seller_id: str, url: str, priority: str | None, source: str, wait: bool
) -> None:
    """Queue a sync of a seller's catalog (as the API does); a running one is reused."""
    from pipeline.ledger import RedisLedger
    from pipeline.syncs import start_sync, sync_view, url_checker

    settings = settings_from(ctx)
    console = Console()
    with Runtime(settings) as runtime:
        client = runtime.redis()
        ledger = RedisLedger(client, settings.jobs)
        try:
            started = start_sync(
                ledger, client, seller_id, url,
                priority=Priority.parse(priority) if priority else None, source=source,
                check_url=url_checker(settings.catalog),
            )  # fmt: skip
        except CatalogSyncError as exc:
            raise click.ClickException(str(exc)) from exc
        note = " (already running)" if started.existing else ""
        console.print(f"sync {started.sync_id} queued for {seller_id}{note}")
        if not wait:
            return
        finals = watch_syncs(
            lambda sid: sync_view(ledger, client, sid), {seller_id: started.sync_id}, console
        )
        console.print(sync_summary(finals))
        if finals[seller_id]["state"] != "completed":
            raise SystemExit(1)


def print_results(console: Console, resp: SearchResponse, title: str) -> None:
    table = Table(title=f"{title}  ({resp.took_ms:.1f} ms{', cached' if resp.cached else ''})")
    for column in ("#", "score", "name", "price", "seller", "product id"):
        table.add_column(column)
    for i, hit in enumerate(resp.results, start=1):
        price = f"{hit.price} {hit.currency or ''}".strip() if hit.price else "-"
        table.add_row(
            str(i), f"{hit.score:.4f}", hit.name[:60], price, hit.seller_id, hit.product_id
        )
    if not resp.results:
        table.caption = "no live product matches"
    console.print(table)


@click.command()
@click.argument("words", required=False, default="")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seller", "seller_id", default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.pass_context
def search(
    ctx: click.Context, words: str, image: Path | None, seller_id: str | None, limit: int
) -> None:
    """Search live products by words, or by a photo with --image; prints a table."""
    if not words and image is None:
        raise click.UsageError("give search words or --image PATH")
    settings = settings_from(ctx)
    from pipeline.embedding.local import LocalSiglipEmbedder
    from serve.app import build_deps
    from serve.encoder import EmbedderQueryEncoder

    async def main() -> SearchResponse:
        embedder = LocalSiglipEmbedder.from_settings(settings)
        deps = build_deps(settings, EmbedderQueryEncoder(embedder))
        try:
            filters = SearchFilters(seller_id=seller_id)
            if image is not None:
                return await deps.searcher.search_image(image.read_bytes(), filters, limit)
            return await deps.searcher.search_text(words, filters, limit)
        finally:
            await deps.aclose()
            await embedder.aclose()

    try:
        resp = asyncio.run(main())
    except CatalogSyncError as exc:
        raise click.ClickException(str(exc)) from exc
    print_results(Console(), resp, f"search: {words or image}")


@click.group()
def keys() -> None:
    """API keys (stored hashed in Redis, with an expiry)."""


@keys.command("create")
@click.option("--seller", "seller_id", default=None, help="The seller this key acts for.")
@click.option("--admin", is_flag=True, help="A key that may do everything.")
@click.option("--ttl-days", type=click.FloatRange(min=0.001), default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_create(
    ctx: click.Context, seller_id: str | None, admin: bool, ttl_days: float, as_json: bool
) -> None:
    """Create a key and print it (it is shown once)."""
    from pipeline.keys import ApiKeyStore

    settings = settings_from(ctx)
    with Runtime(settings) as runtime:
        try:
            key = ApiKeyStore(runtime.redis()).create(
                seller_id=seller_id, admin=admin, ttl_s=int(ttl_days * 86400)
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    expires = time.time() + ttl_days * 86400
    if as_json:
        click.echo(json.dumps({"key": key, "seller_id": seller_id, "admin": admin,
                               "expires_at": expires}))  # fmt: skip
    else:
        click.echo(key)


def register(group: click.Group) -> None:
    for command in (worker, serve, sync, search, keys):
        group.add_command(command)
