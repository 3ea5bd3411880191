"""A progress bar per stage while syncs run, then their counts (``sync --wait`` and ``demo``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.syncs import STAGES

SyncView = Callable[[str], dict[str, Any] | None]
POLL_S = 0.3


def watch_syncs(
    view: SyncView, syncs: dict[str, str], console: Console, timeout: float = 3600
) -> dict[str, dict[str, Any]]:
    """Show one bar per stage (summed over ``syncs``: label -> sync id) until all ended.

    Returns the final view of each sync. Raises TimeoutError after ``timeout`` seconds.
    """
    finals: dict[str, dict[str, Any]] = {}
    columns = (
        TextColumn("{task.description:>20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[dead]} failed"),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console, transient=False) as progress:
        bars = {stage: progress.add_task(stage, total=None, dead=0) for stage in STAGES}
        while len(finals) < len(syncs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"syncs not finished within {timeout} s")
            totals = {stage: [0, 0, 0] for stage in STAGES}
            for label, sync_id in syncs.items():
                current = view(sync_id)
                if current is None:
                    raise LookupError(f"sync {sync_id} ({label}) is unknown to the ledger")
                for stage in STAGES:
                    counts = current["stages"].get(stage, {})
                    totals[stage][0] += counts.get("total", 0)
                    totals[stage][1] += counts.get("completed", 0)
                    totals[stage][2] += counts.get("dead", 0)
                if current["ended"]:
                    finals[label] = current
            for stage, (total, completed, dead) in totals.items():
                progress.update(
                    bars[stage], total=total or None, completed=completed + dead, dead=dead
                )
            time.sleep(POLL_S)
    return finals


def outcome_lines(finals: dict[str, dict[str, Any]]) -> list[str]:
    """One line per sync that did not simply complete: its state, failed jobs per stage
    and its first reason (what an operator needs to act)."""
    lines = []
    for label, view in finals.items():
        if view["state"] == "completed":
            continue
        failed = ", ".join(f"{n} {stage}" for stage, n in (view.get("failed_jobs") or {}).items())
        reason = view.get("last_error") or {}
        text = f"{label}: {view['state']}"
        if failed:
            text += f" ({failed} failed)"
        if reason:
            kind = str(reason.get("error_type", "")).rpartition(".")[2]
            text += f": {kind}: {reason.get('message', '')}" if kind else f": {reason['message']}"
        lines.append(text)
    return lines


def sync_summary(finals: dict[str, dict[str, Any]]) -> Table:
    """One row per sync: state, products found/changed/removed/skipped and their outcome."""
    table = Table(title="sync results")
    for column in ("seller", "state", "found", "changed", "removed", "skipped",
                   "live", "rejected", "flagged", "failed", "s"):  # fmt: skip
        table.add_column(
            column,
            justify="left" if column in ("seller", "state") else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=len(column) if column not in ("seller", "state") else None,
        )
    for label, view in finals.items():
        scrape = view.get("scrape") or {}
        c = view.get("products") or {}
        took = (view.get("finished_at") or 0) - (view.get("created_at") or 0)
        table.add_row(
            label,
            view["state"],
            *(str(scrape.get(k, "-")) for k in ("found", "changed", "removed", "skipped")),
            *(str(c.get(k, 0)) for k in ("live", "rejected", "flagged", "failed")),
            f"{took:.1f}",
        )
    return table
