"""``catalog-sync stats`` and ``catalog-sync dlq list|show|replay|purge``: the job ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import configure_logging, settings_from
from pipeline.ledger import Job, LedgerStats, RedisLedger
from pipeline.notify.outbox import RedisWebhookOutbox
from pipeline.ops import alerts
from pipeline.records import JobType
from pipeline.runtime import Runtime

TYPE_CHOICE = click.Choice([t.value for t in JobType])


@contextmanager
def _ledger(ctx: click.Context) -> Iterator[RedisLedger]:
    settings = settings_from(ctx)
    configure_logging(settings)
    with Runtime(settings) as runtime:
        yield RedisLedger(runtime.redis(), settings.jobs, keys=settings.redis.keys)


@contextmanager
def _outbox(ctx: click.Context) -> Iterator[RedisWebhookOutbox]:
    settings = settings_from(ctx)
    with Runtime(settings) as runtime:
        yield RedisWebhookOutbox(runtime.redis(), settings.redis.keys)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _stats_table(stats: LedgerStats) -> Table:
    table = Table(title=f"job ledger at {datetime.fromtimestamp(stats.at, UTC):%H:%M:%S} UTC")
    for column in ("type", "waiting", "delayed", "active", "completed", "dead", "done/min",
                   "failed/min", "fail rate", "mean", "p95", "oldest waiting"):  # fmt: skip
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, t in stats.types.items():
        rate = "-" if t.failure_rate is None else f"{t.failure_rate:.1%}"
        table.add_row(
            name, str(t.waiting), str(t.delayed), str(t.active), str(t.completed), str(t.dead),
            f"{t.completed_per_min:.0f}", f"{t.failed_per_min:.0f}", rate,
            _age(t.mean_duration_s), _age(t.p95_duration_s), _age(t.oldest_waiting_age_s),
        )  # fmt: skip
    return table


def _consumers_table(stats: LedgerStats) -> Table:
    table = Table(title="consumers")
    for column in ("consumer", "type", "last heartbeat"):
        table.add_column(column)
    for c in stats.consumers:
        table.add_row(c.name, c.type, f"{_age(c.age_s)} ago")
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--watch", is_flag=True, help="Refresh until interrupted (Ctrl-C).")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True)
@click.option("--count", type=click.IntRange(1), default=None, help="With --watch: stop after N.")
@click.option("--check", is_flag=True, help="Also verify the invariants; exit 1 on a problem.")
@click.pass_context
def stats(
    ctx: click.Context, as_json: bool, watch: bool, interval: float, count: int | None, check: bool
) -> None:
    """Jobs per type and state, rates, durations, oldest waiting job, consumers, alerts."""
    console = Console()
    settings = settings_from(ctx)
    configure_logging(settings)
    with Runtime(settings) as runtime:
        client = runtime.redis()
        ledger = RedisLedger(client, settings.jobs, keys=settings.redis.keys)
        shown = 0
        while True:
            snapshot = ledger.stats()
            problems = ledger.check_invariants() if check else []
            firing = alerts.check(ledger, client, settings.ops)
            if as_json:
                payload = snapshot.to_dict()
                payload["alerts"] = [a.to_dict() for a in firing]
                if check:
                    payload["problems"] = problems
                click.echo(json.dumps(payload))
            else:
                console.print(_stats_table(snapshot))
                console.print(_consumers_table(snapshot))
                console.print(alerts.alerts_table(firing))
                if check:
                    console.print("invariants: ok" if not problems else "invariants: BROKEN")
                    for problem in problems:
                        console.print(f"  {problem}", markup=False)
            shown += 1
            if problems:
                ctx.exit(1)
            if not watch or (count is not None and shown >= count):
                return
            time.sleep(interval)


@click.group()
def dlq() -> None:
    """Dead letters: jobs out of attempts or failed permanently (never expire)."""


def _job_line(job: Job) -> str:
    error = job.last_error or {}
    finished = datetime.fromtimestamp(job.finished_at or job.created_at, UTC)
    message = str(error.get("message", ""))[:80]
    return (
        f"{job.id}  {job.type:<18} {job.seller_id:<20} {finished:%Y-%m-%d %H:%M:%S}  "
        f"attempts={job.attempt}  {error.get('type', '-')}: {message}"
    )


@dlq.command("list")
@click.option("--type", "job_type", type=TYPE_CHOICE, default=None)
@click.option("--seller", default=None, help="Only this seller's dead jobs.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dlq_list(
    ctx: click.Context,
    job_type: str | None,
    seller: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Dead jobs, newest first."""
    with _ledger(ctx) as ledger:
        jobs = ledger.dlq_list(JobType(job_type) if job_type else None, seller, limit, offset)
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in jobs]))
        return
    for job in jobs:
        click.echo(_job_line(job))
    if not jobs:
        click.echo("no dead jobs")
    with _outbox(ctx) as outbox:
        dead_hooks = outbox.dead_count()
    if dead_hooks:
        click.echo(f"{dead_hooks} dead webhook deliveries: catalog-sync dlq webhooks")


@dlq.command("webhooks")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def dlq_webhooks(ctx: click.Context, limit: int) -> None:
    """Webhook deliveries that gave up (newest first), as JSON lines: the same list as
    ``catalog-sync sellers webhook-dead``."""
    with _outbox(ctx) as outbox:
        for delivery in outbox.dead(limit):
            click.echo(json.dumps(delivery))


@dlq.command("show")
@click.argument("job_id")
@click.pass_context
def dlq_show(ctx: click.Context, job_id: str) -> None:
    """One dead job: payload, every attempt's error and timings (JSON)."""
    with _ledger(ctx) as ledger:
        job = ledger.dlq_get(job_id)
    if job is None:
        raise click.ClickException(f"no dead job {job_id}")
    click.echo(json.dumps(job.to_dict(), indent=2))


def _selection(ids: tuple[str, ...], job_type: str | None, seller: str | None, all_: bool) -> None:
    if ids and (job_type or seller or all_):
        raise click.UsageError("give job ids, or filters (--type/--seller/--all), not both")
    if not ids and not (job_type or seller or all_):
        raise click.UsageError("give job ids, --type, --seller, or --all")


@dlq.command("replay")
@click.argument("job_ids", nargs=-1)
@click.option("--type", "job_type", type=TYPE_CHOICE, default=None)
@click.option("--seller", default=None)
@click.option("--all", "all_", is_flag=True, help="Every dead job.")
@click.pass_context
def dlq_replay(
    ctx: click.Context, job_ids: tuple[str, ...], job_type: str | None, seller: str | None,
    all_: bool,
) -> None:  # fmt: skip
    """Send dead jobs back to their queue with fresh attempts."""
    _selection(job_ids, job_type, seller, all_)
    with _ledger(ctx) as ledger:
        ids = list(job_ids) if job_ids else None
        type_ = JobType(job_type) if job_type else None
        count = ledger.replay_many(ids, type=type_, seller_id=seller)
    click.echo(f"replayed {count} job(s)")


@dlq.command("purge")
@click.argument("job_ids", nargs=-1)
@click.option("--type", "job_type", type=TYPE_CHOICE, default=None)
@click.option("--seller", default=None)
@click.option("--all", "all_", is_flag=True, help="Every dead job.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def dlq_purge(
    ctx: click.Context, job_ids: tuple[str, ...], job_type: str | None, seller: str | None,
    all_: bool, yes: bool,
) -> None:  # fmt: skip
    """Delete dead jobs for good."""
    _selection(job_ids, job_type, seller, all_)
    if not yes:
        click.confirm("Delete these dead jobs for good?", abort=True)
    with _ledger(ctx) as ledger:
        ids = list(job_ids) if job_ids else None
        count = ledger.purge(ids, type=JobType(job_type) if job_type else None, seller_id=seller)
    click.echo(f"purged {count} job(s)")


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    group.add_command(stats)
    group.add_command(dlq)
