"""``catalog-sync scrape`` and ``catalog-sync sample-site``: see what we would import, and
run the sample catalog on its own."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import click

from pipeline.cli.common import configure_logging, settings_from
from pipeline.errors import CatalogSyncError
from pipeline.settings import Settings
from pipeline.sources.base import ScrapeResult, SourceKind


async def _scrape(settings: Settings, url: str, seller_id: str, kind: SourceKind) -> ScrapeResult:
    from pipeline.runtime import Runtime
    from pipeline.sources.detect import CatalogSources, page_reader

    with Runtime(settings) as runtime:
        reader = page_reader(settings, runtime.redis)
        async with CatalogSources(settings.catalog, reader=reader) as sources:
            return await sources.scrape(url, seller_id, kind)


@click.command()
@click.argument("url")
@click.option(
    "--source",
    "source",
    type=click.Choice([k.value for k in SourceKind]),
    default="auto",
    show_default=True,
    help="Which catalog source reads the URL.",
)
@click.option(
    "--seller",
    "--seller-id",  # the old name, kept as an alias
    "seller_id",
    default=None,
    help="Seller id for the records (default: from URL).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one record each.")
@click.pass_context
def scrape(ctx: click.Context, url: str, source: str, seller_id: str | None, as_json: bool) -> None:
    """Print the normalized products at URL without queueing anything.

    Exit status 1 with the reason when the URL is refused or has no catalog.
    """
    settings = settings_from(ctx)
    configure_logging(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    from pipeline.sources.detect import default_seller_id, detect_source

    try:
        kind = detect_source(url, settings.catalog, SourceKind(source))
        seller = seller_id or default_seller_id(url, kind)
        result = asyncio.run(_scrape(settings, url, seller, kind))
    except CatalogSyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        for record in result.products:
            click.echo(
                json.dumps(
                    {"type": "product", **record.model_dump(mode="json")}, ensure_ascii=False
                )
            )
        for skipped in result.skipped:
            click.echo(
                json.dumps(
                    {"type": "skipped", **skipped.model_dump(mode="json")}, ensure_ascii=False
                )
            )
        return
    click.echo(
        f"{result.source} source: {len(result.products)} products, "
        f"{len(result.skipped)} skipped, seller {seller}"
    )
    for record in result.products:
        price = (
            f"{record.price} {record.currency or ''}".strip()
            if record.price is not None
            else f"unparsed: {record.price_raw!r}"
        )
        click.echo(
            f"  {record.retailer_id or record.product_id:<20} {record.name[:50]:<50} "
            f"{price:<18} {record.availability} {len(record.image_urls)} img"
        )
    for skipped in result.skipped:
        click.echo(f"  skipped {skipped.raw_name or '(no name)'!s:<40} {skipped.reason[:120]}")


@click.command("sample-site")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "-p", default=8900, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--products",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Products of the bulk seller (for benchmarks).",
)
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0, 10_000))
def sample_site(host: str, port: int, products: int, latency_ms: float) -> None:
    """Serve the sample catalog site until interrupted."""
    from pipeline.sample_site import SampleSite

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    site = SampleSite(host, port, bulk_products=products, latency_ms=latency_ms)
    click.echo(f"sample catalog site on http://{host}:{port or '<free port>'}/ (Ctrl-C stops)")
    click.echo("fetching it needs CATALOG_ALLOWED_HOSTS to list its host (it is private)")
    try:
        site.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    group.add_command(scrape)
    group.add_command(sample_site)
