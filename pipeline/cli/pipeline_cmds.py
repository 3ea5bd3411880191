"""CLI: ``worker``, ``serve``, ``sync``, ``keys``."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import api_runner, configure_logging, settings_from
from pipeline.cli.progress import outcome_lines, sync_summary, watch_syncs
from pipeline.errors import CatalogSyncError
from pipeline.records import Priority
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.sources.base import SourceKind


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

    api = api_runner(ctx)
    ensure_ray(settings)
    try:
        url = api.start_api(settings, host or settings.api.host, port or settings.api.port)
        click.echo(f"catalog-sync API at {url}  (OpenAPI docs: {url}/docs); Ctrl-C to stop")
        api.wait_for_interrupt()
    finally:
        api.stop_api()


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
              type=click.Choice([k.value for k in SourceKind]))  # fmt: skip
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
        ledger = RedisLedger(client, settings.jobs, keys=settings.redis.keys)
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
        for line in outcome_lines(finals):
            console.print(line, markup=False, highlight=False)
        if finals[seller_id]["state"] != "completed":
            raise SystemExit(1)


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
            key = ApiKeyStore(runtime.redis(), settings.redis.keys).create(
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


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """List stored keys: id, seller or admin, created, expiry (never the key itself)."""
    from pipeline.keys import ApiKeyStore

    settings = settings_from(ctx)
    with Runtime(settings) as runtime:
        infos = ApiKeyStore(runtime.redis(), settings.redis.keys).list()
    if as_json:
        for info in infos:
            click.echo(json.dumps({"key_id": info.key_id, "seller_id": info.seller_id,
                                   "admin": info.admin, "created": info.created,
                                   "expires_at": info.expires_at}))  # fmt: skip
        return
    table = Table(title=f"API keys ({len(infos)})")
    for column in ("id", "for", "created", "expires"):
        table.add_column(column, no_wrap=True)
    for info in infos:
        who = "admin" if info.admin else f"seller {info.seller_id}"
        table.add_row(info.key_id, who, _when(info.created), _when(info.expires_at))
    if not infos:
        table.caption = "no keys: create one with 'catalog-sync keys create'"
    Console().print(table)


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id from 'keys list' (a unique prefix is enough)."""
    from pipeline.keys import ApiKeyStore

    settings = settings_from(ctx)
    with Runtime(settings) as runtime:
        try:
            revoked = ApiKeyStore(runtime.redis(), settings.redis.keys).revoke_id(key_id)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    if not revoked:
        raise click.ClickException(f"no key with id {key_id!r} (see 'catalog-sync keys list')")
    click.echo(f"revoked key {key_id}")


def register(group: click.Group) -> None:
    for command in (worker, serve, sync, keys):
        group.add_command(command)
