"""What a stage hands back to the dispatcher: per job, a result or an error, and follow-ups.

Stages never talk to the ledger themselves: they return :class:`Outcome` objects, and the
dispatcher adds the follow-up jobs (as children of the sync) and then acks or fails each
job, so every ledger transition lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.ledger import ClaimedJob, JobSpec
from pipeline.records import JobType


@dataclass
class Outcome:
    job: ClaimedJob
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    follow_up: list[JobSpec] = field(default_factory=list)


class StageHandler(Protocol):
    """Handles claimed jobs of one type; returns one outcome per job, in any order."""

    job_type: JobType
    batch_size: int  # how many jobs one call takes (GPU stages take whole batches)

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]: ...


def child_spec(
    parent: ClaimedJob, job_type: JobType, payload: dict[str, Any], idempotency_key: str
) -> JobSpec:
    """A follow-up job of the same sync (the parent of ``parent``, or ``parent`` itself),
    at ``parent``'s priority: a premium seller's embeddings and QC jump the queue too."""
    return JobSpec(
        type=job_type,
        payload=payload,
        seller_id=parent.seller_id,
        priority=parent.priority,
        parent_id=sync_id_of(parent),
        idempotency_key=idempotency_key,
    )


def sync_id_of(job: ClaimedJob) -> str:
    """The sync a job belongs to: its parent, or the job itself when it is the sync."""
    return job.parent_id or job.job_id


# Idempotency keys: built here and nowhere else, since the sync view reads the scrape
# child back through its key (a second spelling that drifted would lose it silently).


def next_sync_key(seller_id: str, after_sync_id: str) -> str:
    """The key of the sync that follows ``after_sync_id`` (``"0"`` for a seller's first)."""
    return f"sync:{seller_id}:after:{after_sync_id}"


def scrape_key(sync_id: str) -> str:
    return f"scrape:{sync_id}"


def embed_key(sync_id: str, product_id: str, content_hash: str, redo: int = 0) -> str:
    return f"embed:{sync_id}:{product_id}:{content_hash}{redo_suffix(redo)}"


def qc_key(sync_id: str, product_id: str, content_hash: str, redo: int = 0) -> str:
    return f"qc:{sync_id}:{product_id}:{content_hash}{redo_suffix(redo)}"


def index_key(sync_id: str, product_id: str, content_hash: str, redo: int = 0) -> str:
    return f"index:{sync_id}:{product_id}:{content_hash}{redo_suffix(redo)}"


def redo_suffix(redo: int) -> str:
    """The idempotency-key suffix of a redone embedding and the QC and index jobs after it:
    the first ones completed and still hold their keys."""
    return f":r{redo}" if redo else ""
