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
        parent_id=parent.parent_id or parent.job_id,
        idempotency_key=idempotency_key,
    )


def redo_suffix(redo: int) -> str:
    """The idempotency-key suffix of a redone embedding and the QC and index jobs after it:
    the first ones completed and still hold their keys."""
    return f":r{redo}" if redo else ""
