"""``catalog-sync services status|stop``: the embedded services of ``DATA_DIR``."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import settings_from
from pipeline.local import inventory


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _last_use(status: inventory.ServiceStatus) -> str:
    if status.users:
        n = len(status.users)
        return f"in use by {n} process{'es' if n > 1 else ''}"
    if status.idle_s is None:
        return "starting"
    return f"{_span(status.idle_s)} ago"


def _idle_stop(status: inventory.ServiceStatus) -> str:
    limit = status.record.idle_stop_s
    if limit is None:
        return "off"
    if status.stops_in_s is None:
        return f"after {_span(limit)} idle"
    return f"in {_span(status.stops_in_s)}"


@click.group()
def services() -> None:
    """The embedded services of DATA_DIR (redis-server, Milvus Lite): see and stop them.

    Commands start the ones they need; a service stops when its last user closes it, or
    by itself after EMBEDDED_IDLE_STOP_S without a user (a user killed with -9)."""


@services.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per service.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """List the running services: pid, port, resident memory, users and last use."""
    data_dir = settings_from(ctx).data_dir.resolve()
    found = inventory.running(data_dir)
    if as_json:
        for item in found:
            click.echo(json.dumps(item.to_dict()))
        return
    if not found:
        click.echo(f"no embedded services are running for {data_dir}")
        return
    table = Table(title=f"embedded services of {data_dir}", title_justify="left")
    for column in ("service", "pid", "port", "memory", "last use", "idle stop"):
        table.add_column(column, no_wrap=True, justify="right" if column == "memory" else "left")
    for item in found:
        r = item.record
        memory = f"{item.memory_bytes / 2**20:.0f} MiB"
        table.add_row(r.name, str(r.pid), str(r.port), memory, _last_use(item), _idle_stop(item))
    console = Console()
    console.print(table)
    for item in found:
        for user in item.users:
            console.print(f"  {item.record.name} used by pid {user.pid}: {user.command}",
                          markup=False, highlight=False)  # fmt: skip


@services.command("stop")
@click.argument("names", nargs=-1)
@click.pass_context
def stop(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Stop the named services (all by default), each with its whole process group.

    A process still using one (a worker, the API) loses it: stop those first."""
    data_dir = settings_from(ctx).data_dir.resolve()
    known = inventory.recorded_names(data_dir)
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(known) or "none"
        raise click.UsageError(f"no service named {', '.join(unknown)} (recorded: {listed})")
    users = {s.record.name: s.users for s in inventory.running(data_dir)}
    stopped = inventory.stop(data_dir, list(names) or None)
    if not stopped:
        click.echo(f"no embedded services were running for {data_dir}")
        return
    for record in stopped:
        click.echo(f"stopped {record.name} (pid {record.pid}, port {record.port})")
        for user in users.get(record.name, ()):
            click.echo(f"  it was in use by pid {user.pid}: {user.command}")


def register(group: click.Group) -> None:
    group.add_command(services)
