"""The dispatcher: claims jobs from the ledger and runs them through the stage handlers.

One asyncio loop per job type keeps at most ``JOB_CONCURRENCY`` calls in flight (for the
embed stage a call is a whole batch). Every ledger transition happens here: follow-up
jobs are added as children of the sync *before* the job that made them is acked, so a
sync can never complete while work it spawned is still unqueued; then successes are
acked in one call and failures are reported one by one (the ledger picks retry or dead
letter from the error's class). Leases of running jobs are extended by a heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from pydantic import ValidationError

from pipeline.errors import PermanentError, RetryableError
from pipeline.errortext import one_line
from pipeline.ledger import ClaimedJob, JobSpec, RedisLedger, StaleTokenError
from pipeline.ops.metrics import worker_metrics
from pipeline.records import JobState
from pipeline.stages.base import Outcome, StageHandler

logger = logging.getLogger(__name__)

CLAIM_BLOCK_MS = 250
MAINTAIN_EVERY_S = 1.0


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class DispatcherStats:
    claimed: int = 0
    completed: int = 0
    failed: int = 0


class Dispatcher:
    def __init__(
        self,
        ledger: RedisLedger,
        handlers: Sequence[StageHandler],
        *,
        concurrency: int,
        lease_s: float,
        consumer: str | None = None,
        call_timeout_s: float | None = None,
    ) -> None:
        self._ledger = ledger
        self._handlers = {h.job_type: h for h in handlers}
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._call_timeout = call_timeout_s or lease_s
        self.consumer = consumer or consumer_name()
        self.stats = DispatcherStats()
        self._running: dict[str, ClaimedJob] = {}
        # Blocking claims get their own threads so they never starve the default pool,
        # which the stages use for their Redis and vector-store calls.
        self._claim_pool = ThreadPoolExecutor(len(self._handlers) + 1, thread_name_prefix="claim")

    async def run(self, stop: asyncio.Event, grace_s: float = 30.0) -> None:
        """Run until ``stop`` is set; then finish what is in flight (up to ``grace_s``) and
        hand back what is not (as a retryable failure, so another consumer takes it)."""
        logger.info("dispatcher %s: handling %s", self.consumer, ", ".join(self._handlers))
        loops = [
            asyncio.create_task(self._loop(handler, stop), name=f"loop-{job_type}")
            for job_type, handler in self._handlers.items()
        ]
        keeper = asyncio.create_task(self._keep_leases(stop), name="leases")
        try:
            await stop.wait()
        finally:
            done, pending = await asyncio.wait(loops, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            self._release_unfinished()
            self._claim_pool.shutdown(wait=False, cancel_futures=True)
            for task in done:
                if task.exception() is not None:
                    logger.error("dispatcher loop died", exc_info=task.exception())

    async def _loop(self, handler: StageHandler, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            if len(in_flight) >= self._concurrency:
                _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                jobs = await loop.run_in_executor(
                    self._claim_pool,
                    lambda: self._ledger.claim(
                        handler.job_type,
                        self.consumer,
                        handler.batch_size,
                        CLAIM_BLOCK_MS,
                        lease_s=self._lease_s,
                    ),
                )
            except Exception:
                logger.exception("claim %s failed; retrying in 1 s", handler.job_type)
                await asyncio.sleep(1.0)
                continue
            if not jobs:
                in_flight = {t for t in in_flight if not t.done()}
                continue
            self.stats.claimed += len(jobs)
            for job in jobs:
                self._running[job.job_id] = job
                _log_transition(job, "active", "claimed")
            task = asyncio.create_task(self._run(handler, jobs))
            in_flight.add(task)
        if in_flight:
            await asyncio.wait(in_flight)

    async def _run(self, handler: StageHandler, jobs: list[ClaimedJob]) -> None:
        started = time.perf_counter()
        try:
            outcomes = await asyncio.wait_for(handler.handle(jobs), timeout=self._call_timeout)
        except TimeoutError:
            err = RetryableError(f"{handler.job_type} call exceeded {self._call_timeout} s")
            outcomes = [Outcome(job, error=err) for job in jobs]
        except Exception as exc:  # a handler bug must not kill the loop: the jobs retry
            logger.exception("%s handler raised", handler.job_type)
            outcomes = [Outcome(job, error=exc) for job in jobs]
        reported = {o.job.job_id for o in outcomes}
        for job in jobs:
            if job.job_id not in reported:
                outcomes.append(Outcome(job, error=RetryableError("handler returned no outcome")))
        try:
            await asyncio.to_thread(self._settle, outcomes)
        except Exception:
            # Redis went away: the leases run out and another attempt redoes the work,
            # whose effects are idempotent (keyed by product id and content hash).
            logger.exception("could not record %d %s outcome(s)", len(outcomes), handler.job_type)
        finally:
            for job in jobs:
                self._running.pop(job.job_id, None)
        elapsed = time.perf_counter() - started
        worker_metrics().batch_done(handler.job_type, len(jobs), elapsed)
        logger.info("%s: %d job(s) in %.3f s", handler.job_type, len(jobs), elapsed)

    def _settle(self, outcomes: list[Outcome]) -> None:
        """Children first, then acks, then failures."""
        ok = [o for o in outcomes if o.error is None]
        specs: list[JobSpec] = [spec for o in ok for spec in o.follow_up]
        if specs:
            try:
                self._enqueue_follow_ups(specs)
            except Exception as exc:
                # Nothing of the batch was acked: each job retries and re-adds its follow-ups
                # (idempotency keys make the second enqueue a no-op where the first landed).
                for o in ok:
                    o.error = exc
                ok = []
        if ok:
            flags = self._ledger.complete_many([(o.job, o.result) for o in ok])
            self.stats.completed += sum(flags)
            for o, acked in zip(ok, flags, strict=True):
                if acked:
                    _log_transition(o.job, "completed", "completed")
        for o in outcomes:
            if o.error is None:
                continue
            self.stats.failed += 1
            try:
                state = self._ledger.fail(o.job, _classify(o.error))
            except StaleTokenError:
                continue  # logged by the ledger: a newer attempt owns the job
            _log_transition(o.job, state.value, "failed", o.error)

    def _enqueue_follow_ups(self, specs: list[JobSpec]) -> None:
        """Add follow-ups as children of their sync; when that sync has ended (a dead letter
        replayed after its sync completed), they run as top-level jobs instead of dying on
        the ledger's "children only for an active parent" rule."""
        try:
            self._ledger.enqueue_many(specs)
            return
        except PermanentError:
            parents = {s.parent_id for s in specs if s.parent_id}
            ended = {
                p
                for p in parents
                if (job := self._ledger.get(p)) is not None
                and job.state in (JobState.COMPLETED, JobState.DEAD)
            }
            if not ended:
                raise
        self._ledger.enqueue_many(
            [replace(s, parent_id=None) if s.parent_id in ended else s for s in specs]
        )

    async def _keep_leases(self, stop: asyncio.Event) -> None:
        """Heartbeat every running job at a third of the lease; sweep due jobs regularly."""
        interval = max(0.5, self._lease_s / 3)
        last_beat = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=MAINTAIN_EVERY_S)
            try:
                running = list(self._running.values())
                if running and time.monotonic() - last_beat >= interval:
                    await asyncio.to_thread(
                        self._ledger.heartbeat_many, running, lease_s=self._lease_s
                    )
                    last_beat = time.monotonic()
                await asyncio.to_thread(self._ledger.maintain)
            except Exception:
                logger.exception("lease keeping failed; retrying")

    def _release_unfinished(self) -> None:
        for job in list(self._running.values()):
            with contextlib.suppress(Exception):
                self._ledger.fail(job, RetryableError("worker stopped", delay=0))
        self._running.clear()


def _log_transition(
    job: ClaimedJob, to: str, event: str, error: BaseException | None = None
) -> None:
    """One line per job transition (fields for LOG_JSON=true), and the worker's metrics.
    Failures carry their stack trace."""
    duration = max(0.0, time.time() - job.claimed_at)
    if event != "claimed":
        worker_metrics().job_done(job.type, "completed" if error is None else to, duration)
    fields = {
        "event": event,
        "job_id": job.job_id,
        "job_type": str(job.type),
        "seller_id": job.seller_id,
        "attempt": job.attempt,
        "to": to,
        "duration_s": round(duration, 4),
    }
    if error is not None:
        fields["error"] = one_line(error)
        logger.warning(
            "job %s %s attempt %d failed -> %s after %.3f s: %s",
            job.job_id,
            job.type,
            job.attempt,
            to,
            duration,
            fields["error"],
            exc_info=error,
            extra={"fields": fields},
        )
        return
    logger.info(
        "job %s %s attempt %d %s in %.3f s",
        job.job_id,
        job.type,
        job.attempt,
        event,
        duration,
        extra={"fields": fields},
    )


def _classify(error: BaseException) -> BaseException:
    """Invalid data (a payload or record that fails validation) is permanent; anything
    else outside our hierarchy is treated as transient by the ledger."""
    if isinstance(error, ValidationError):
        return PermanentError(f"invalid data: {error}")
    return error
