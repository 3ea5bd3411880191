"""What a sync's outcome is, as operators and sellers are told it.

The ledger completes a ``sync-seller`` job once every job it spawned has ended, dead or
not: a sync whose scrape died is ``completed`` there. The outcome told to people says
what happened instead:

- ``failed``: the scrape is dead (nothing of the catalog was read), or the sync job
  itself died; ``last_error`` is the scrape's (or the sync's) reason;
- ``completed_with_errors``: the scrape succeeded but some products' later jobs died;
  ``failed_jobs`` counts them per stage and ``errors`` carries their reasons;
- ``completed``: everything succeeded;
- ``waiting`` / ``delayed`` / ``active`` while it runs.

The API, the SSE ``end`` event, webhooks, the CLI and the dashboard all read this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.records import JobType

COMPLETED = "completed"
COMPLETED_WITH_ERRORS = "completed_with_errors"
FAILED = "failed"
ENDED = frozenset({COMPLETED, COMPLETED_WITH_ERRORS, FAILED})
SCRAPE = JobType.SCRAPE_CATALOG.value


def scrape_died(by_type: Mapping[str, Mapping[str, int]], scrape_state: str | None = None) -> bool:
    """The scrape of a sync is dead (and was not replayed to success since)."""
    if scrape_state is not None:
        return scrape_state == "dead"
    counts = by_type.get(SCRAPE, {})
    return int(counts.get("dead", 0)) > 0 and int(counts.get("completed", 0)) == 0


def outcome_state(
    ledger_state: str,
    by_type: Mapping[str, Mapping[str, int]],
    scrape_state: str | None = None,
) -> str:
    """The state told to people, from the ledger's state and the children's counts.

    ``scrape_state`` is the scrape job's own ledger state when known (it wins over the
    counts, which keep a replayed scrape's earlier death)."""
    if ledger_state == "dead":
        return FAILED
    if ledger_state != "completed":
        return ledger_state
    if scrape_died(by_type, scrape_state):
        return FAILED
    dead = sum(int(c.get("dead", 0)) for name, c in by_type.items() if name != SCRAPE)
    return COMPLETED_WITH_ERRORS if dead else COMPLETED


def failed_counts(by_type: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Dead jobs per stage (stages with none left out)."""
    return {name: int(c.get("dead", 0)) for name, c in by_type.items() if int(c.get("dead", 0))}


def error_entry(job_id: str, job_type: str, error: Mapping[str, Any] | None) -> dict[str, Any]:
    """One reason as the API lists it: which job, its error type and one-line message."""
    error = error or {}
    return {
        "job_id": job_id,
        "type": job_type,
        "error_type": str(error.get("type", "")),
        "message": str(error.get("message", "")),
    }
