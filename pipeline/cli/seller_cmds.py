"""``catalog-sync sellers set|show|list|remove|webhook-dead|scheduler``: seller profiles
(tier, catalog URL for scheduled re-syncs, webhook) and the state of their loops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from pipeline.cli.common import configure_logging, settings_from
from pipeline.errors import PermanentError
from pipeline.fetch.guard import UrlGuard
from pipeline.notify import check_webhook_url
from pipeline.notify.outbox import RedisWebhookOutbox
from pipeline.products import RedisProductStore
from pipeline.runtime import Runtime
from pipeline.schedule.lock import RedisLeaderLock
from pipeline.sellers import RedisSellerDirectory, SellerTier
from pipeline.settings import Settings
from pipeline.sources.base import SourceKind
from pipeline.syncs import url_checker

TIERS = click.Choice([t.value for t in SellerTier])
SOURCES = click.Choice([k.value for k in SourceKind])


@contextmanager
def _directory(ctx: click.Context) -> Iterator[tuple[Settings, RedisSellerDirectory, Runtime]]:
    settings = settings_from(ctx)
    configure_logging(settings)
    with Runtime(settings) as runtime:
        period = settings.schedule.resync_hours * 3600.0
        yield (
            settings,
            RedisSellerDirectory(runtime.redis(), settings.redis.keys, resync_period_s=period),
            runtime,
        )


def _when(ts: float | None) -> str:
    return "-" if ts is None else f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M:%S} UTC"


def _show(profile: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(profile))
        return
    for key, value in profile.items():
        shown = _when(value) if key.endswith(("_at", "_due")) and value else value
        click.echo(f"{key:>18}: {shown}")


@click.group()
def sellers() -> None:
    """Seller profiles: tier (queue priority), scheduled re-syncs, webhooks."""


@sellers.command("set")
@click.argument("seller_id")
@click.option("--tier", type=TIERS, help="premium syncs run first, basic last")
@click.option("--catalog-url", help="re-synced every SCHEDULE_RESYNC_HOURS")
@click.option("--source", type=SOURCES, help="catalog source (default: auto)")
@click.option("--webhook-url", help="sync events are POSTed here, signed")
@click.option("--webhook-secret", help="HMAC key (default: generated, printed once)")
@click.option("--remove-webhook", is_flag=True)
@click.option("--name", "display_name", help="shown to shoppers ('' clears it)")
@click.option("--whatsapp", help="number with country code: shoppers chat here ('' clears)")
@click.option("--shop-url", help="the shop's web page, for sellers without WhatsApp")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def set_(ctx: click.Context, seller_id: str, tier: str | None, catalog_url: str | None,
         source: str | None, webhook_url: str | None, webhook_secret: str | None,
         remove_webhook: bool, display_name: str | None, whatsapp: str | None,
         shop_url: str | None, as_json: bool) -> None:  # fmt: skip
    """Create or update a seller's profile; fields not given keep their value.

    Name and contact set here win over what a catalog says (a sync fills them only
    where they are empty)."""
    with _directory(ctx) as (settings, directory, _):
        try:
            if catalog_url is not None:
                url_checker(settings.catalog)(catalog_url, source or "auto")
            if webhook_url is not None:
                guard = UrlGuard(settings.catalog.allowed_hosts)
                asyncio.run(asyncio.wait_for(check_webhook_url(webhook_url, guard), 10))
            profile, secret = directory.upsert(
                seller_id,
                tier=SellerTier(tier) if tier else None,
                catalog_url=catalog_url,
                source=source,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                remove_webhook=remove_webhook,
                display_name=display_name,
                whatsapp=whatsapp,
                shop_url=shop_url,
            )
        except (PermanentError, TimeoutError) as exc:
            raise click.ClickException(str(exc) or "webhook host did not resolve") from exc
        out = profile.public()
        if secret is not None:
            out["webhook_secret"] = secret
        _show(out, as_json)
        if secret is not None and not as_json:
            click.echo("(the webhook secret is shown this once)")


@sellers.command()
@click.argument("seller_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, seller_id: str, as_json: bool) -> None:
    """Show one profile (the webhook secret is never shown)."""
    with _directory(ctx) as (_, directory, _r):
        profile = directory.get(seller_id)
        if profile is None:
            raise click.ClickException(f"no profile for seller {seller_id}")
        _show(profile.public(), as_json)


@sellers.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, limit: int, offset: int, as_json: bool) -> None:
    """Every seller: those with a profile (oldest first), then those we hold products
    for without one, with their live product count and contact."""
    with _directory(ctx) as (_, directory, runtime):
        profiles = [p.public() for p in directory.list(offset=0, limit=1000)]
        known = {p["seller_id"] for p in profiles}
        for seller_id in directory.seller_ids_with_products():
            if seller_id not in known:
                profiles.append({"seller_id": seller_id, "tier": "-", "profile": False})
        profiles = profiles[offset : offset + limit]
        products = RedisProductStore(runtime.redis(), directory.keys)
        for p in profiles:
            p["products"] = products.seller_counts(p["seller_id"])
    if as_json:
        click.echo(json.dumps(profiles))
        return
    if not profiles:
        click.echo("no sellers yet: sync a catalog (catalog-sync sync --seller ID URL)")
    for p in profiles:
        live = p["products"].get("live", 0)
        contact = p.get("whatsapp") and f"wa.me/{p['whatsapp']}" or p.get("shop_url") or "-"
        name = p.get("display_name") or "-"
        click.echo(f"{p['seller_id']:<24} {name[:28]:<28} {p['tier']:<9} {live:>5} live  {contact}")


@sellers.command()
@click.argument("seller_id")
@click.pass_context
def remove(ctx: click.Context, seller_id: str) -> None:
    """Delete a profile: no more scheduled re-syncs or webhooks (products stay)."""
    with _directory(ctx) as (_, directory, _r):
        if not directory.delete(seller_id):
            raise click.ClickException(f"no profile for seller {seller_id}")
    click.echo(f"removed {seller_id}")


@sellers.command("webhook-dead")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def webhook_dead(ctx: click.Context, limit: int) -> None:
    """Webhook deliveries that gave up (newest first), as JSON lines."""
    with _directory(ctx) as (settings, _d, runtime):
        outbox = RedisWebhookOutbox(runtime.redis(), settings.redis.keys)
        for delivery in outbox.dead(limit):
            click.echo(json.dumps(delivery))
        click.echo(json.dumps({"pending": outbox.pending(), "stats": outbox.stats()}))


@sellers.command()
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Which worker holds the scheduler lock, and the next due re-syncs."""
    with _directory(ctx) as (settings, directory, runtime):
        client = runtime.redis()
        keys = settings.redis.keys
        lock = RedisLeaderLock(
            client, keys.scheduler_lock, keys.scheduler_fence, "cli", 1.0
        ).holder_now()
        click.echo(
            f"leader: {lock[0]} (token {lock[1]}, lease to {_when(lock[2])})"
            if lock
            else "leader: none"
        )
        due: Any = client.zrange(directory.due_key, 0, 9, withscores=True)
        for seller, when in due:
            click.echo(f"  {seller.decode():<30} {_when(when)}")


def register(group: click.Group) -> None:
    group.add_command(sellers)
