"""Turning job specs into script arguments, and enqueue replies back into jobs.

A spec is checked in full before anything is written: ids, payload (per type), the
seller the payload names, attempts, idempotency key length.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pipeline.errors import PermanentError
from pipeline.errortext import message, root_cause, traceback_text, type_name
from pipeline.ledger.lua import Arg
from pipeline.ledger.models import Job, JobSpec
from pipeline.ledger.payloads import encode_payload, payload_seller, validate_payload
from pipeline.records import ID_PATTERN, JobState, JobType

MAX_KEY = 512
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")


def _check_id(name: str, value: str) -> None:
    if not (0 < len(value) <= 128 and _ID_CHARS.issuperset(value) and value[0] not in "_.:-"):
        raise PermanentError(f"{name} must match {ID_PATTERN}, got {value[:140]!r}")


def describe_error(error: BaseException) -> str:
    """The JSON kept for a failed attempt: the root cause's type and one-line message
    (Ray's wrapping and colour codes removed), and the traceback kept apart (bounded)."""
    cause = root_cause(error)
    cls = type(cause)
    return json.dumps(
        {
            "type": f"{cls.__module__}.{type_name(cause)}",
            "message": message(cause),
            "traceback": traceback_text(error),
        }
    )


def prepare(
    spec: JobSpec, parent_id: str | None, now: float, default_max_attempts: int
) -> tuple[list[Arg], Job]:
    """Validate a spec; returns the script arguments and the job it will create."""
    job_type = JobType(spec.type)
    _check_id("seller_id", spec.seller_id)
    model = validate_payload(job_type, spec.payload)
    named = payload_seller(model)
    if named is not None and named != spec.seller_id:
        raise PermanentError(
            f"{job_type} payload names seller {named!r} but the job is for {spec.seller_id!r}"
        )
    max_attempts = spec.max_attempts or default_max_attempts
    if not 1 <= max_attempts <= 100:
        raise PermanentError(f"max_attempts must be 1-100, got {max_attempts}")
    idem = spec.idempotency_key or ""
    if len(idem) > MAX_KEY:
        raise PermanentError(f"idempotency_key is {len(idem)} characters, limit {MAX_KEY}")
    parent = parent_id or spec.parent_id or ""
    job_id = uuid.uuid4().hex
    payload_json = encode_payload(job_type, model)
    args: list[Arg] = [
        job_id, job_type.value, spec.seller_id, int(spec.priority), payload_json,
        max_attempts, parent, idem,
    ]  # fmt: skip
    job = Job(
        id=job_id,
        type=job_type,
        seller_id=spec.seller_id,
        priority=spec.priority,
        payload=json.loads(payload_json),
        state=JobState.WAITING,
        attempt=0,
        max_attempts=max_attempts,
        created_at=now,
        parent_id=parent or None,
        idempotency_key=idem or None,
    )
    return args, job


def created_jobs(
    prepared: list[tuple[list[Arg], Job]], replies: list[Any], chunk: int
) -> tuple[list[Job], dict[int, str]]:
    """Jobs in spec order, and {index: id} where a live idempotency key answered."""
    out: list[Job] = []
    existing: dict[int, str] = {}
    for n, reply in enumerate(replies):
        if reply and reply[0] == b"refused":
            parent, state = reply[1].decode(), reply[2].decode()
            raise PermanentError(
                f"parent job {parent} is {state}: children can only be added to an active "
                f"job ({n * chunk} of {len(prepared)} jobs were created before this)"
            )
        for k, (_, job) in enumerate(prepared[n * chunk : (n + 1) * chunk]):
            if reply[2 * k] == b"existing":
                existing[len(out)] = reply[2 * k + 1].decode()
            out.append(job)
    return out, existing
