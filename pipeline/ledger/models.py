"""What the ledger hands out: job specs in, jobs and claimed jobs out, and its errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from pipeline.errors import CatalogSyncError
from pipeline.ledger.payloads import PAYLOAD_MODELS
from pipeline.records import JobState, JobType, Priority


class StaleTokenError(CatalogSyncError):
    """A failure was reported with a fencing token that is no longer the job's current one
    (its lease expired and another attempt took over, or the job already ended)."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to enqueue. ``payload`` is validated against ``type``'s model at enqueue."""

    type: JobType
    payload: Mapping[str, Any] | BaseModel
    seller_id: str
    priority: Priority = Priority.NORMAL
    parent_id: str | None = None
    idempotency_key: str | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class ChildrenSummary:
    """A parent's children: counts overall and per job type (``{type: {total, completed,
    dead}}``). ``pending`` are neither completed nor dead yet."""

    total: int
    completed: int
    dead: int
    by_type: dict[str, dict[str, int]]

    @property
    def pending(self) -> int:
        return self.total - self.completed - self.dead

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * (self.completed + self.dead) / self.total


@dataclass(frozen=True, slots=True)
class Job:
    """Everything the ledger knows about one job."""

    id: str
    type: JobType
    seller_id: str
    priority: Priority
    payload: dict[str, Any]
    state: JobState
    attempt: int
    max_attempts: int
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    progress: float = 0.0
    progress_message: str = ""
    result: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    parent_id: str | None = None
    idempotency_key: str | None = None
    consumer: str | None = None
    lease_until: float | None = None
    due_at: float | None = None
    replays: int = 0
    awaiting_children: bool = False
    children: ChildrenSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (for the API and the CLI)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["type"] = str(self.type)
        out["state"] = str(self.state)
        out["priority"] = self.priority.name.lower()
        if self.children is not None:
            out["children"] = {
                "total": self.children.total,
                "completed": self.children.completed,
                "dead": self.children.dead,
                "pending": self.children.pending,
                "by_type": self.children.by_type,
            }
        return out


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """One attempt at a job, held under a lease. ``token`` fences this attempt: reports
    made with it are refused once another attempt took over."""

    job_id: str
    type: JobType
    payload: dict[str, Any]
    seller_id: str
    parent_id: str | None
    attempt: int
    token: str
    max_attempts: int
    consumer: str
    claimed_at: float
    priority: Priority = Priority.NORMAL

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def parsed(self) -> BaseModel:
        """The payload as its type's pydantic model (it was validated at enqueue)."""
        return PAYLOAD_MODELS[self.type].model_validate(self.payload)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _float(value: str) -> float | None:
    return float(value) if value else None


def decode_hash(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def children_from(h: Mapping[str, str], per_type: Mapping[str, str]) -> ChildrenSummary | None:
    total = int(h.get("ch_total") or 0)
    if not total:
        return None
    by_type: dict[str, dict[str, int]] = {}
    for name, count in per_type.items():
        jtype, _, outcome = name.rpartition(":")
        by_type.setdefault(jtype, {"total": 0, "completed": 0, "dead": 0})[outcome] = int(count)
    return ChildrenSummary(
        total=total,
        completed=int(h.get("ch_completed") or 0),
        dead=int(h.get("ch_dead") or 0),
        by_type=by_type,
    )


def job_from_hash(h: Mapping[str, str], attempts: list[str], per_type: Mapping[str, str]) -> Job:
    """Build a :class:`Job` from its decoded Redis hash, attempt records and child counts."""
    return Job(
        id=h["id"],
        type=JobType(h["type"]),
        seller_id=h["seller"],
        priority=Priority(int(h["prio"])),
        payload=json.loads(h["payload"]),
        state=JobState(h["state"]),
        attempt=int(h.get("attempt") or 0),
        max_attempts=int(h["max"]),
        created_at=float(h["created"]),
        started_at=_float(h.get("started", "")),
        finished_at=_float(h.get("finished", "")),
        progress=float(h.get("progress") or 0),
        progress_message=h.get("pmsg", ""),
        result=json.loads(h["result"]) if h.get("result") else None,
        last_error=json.loads(h["error"]) if h.get("error") else None,
        errors=[json.loads(a) for a in attempts],
        parent_id=h.get("parent") or None,
        idempotency_key=h.get("idem") or None,
        consumer=h.get("consumer") or None,
        lease_until=_float(h.get("lease", "")),
        due_at=_float(h.get("due", "")) if h["state"] == JobState.DELAYED else None,
        replays=int(h.get("replays") or 0),
        awaiting_children=h.get("awaiting") == "1",
        children=children_from(h, per_type),
    )
