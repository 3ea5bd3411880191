"""A dynamic batcher in plain asyncio: concurrent single requests become model batches.

Callers ``await batcher.submit(item)`` (or ``submit_many``); a background task takes the
first waiting item, then gathers more until ``max_batch_size`` items or ``max_wait_s``
seconds since that first item, and runs ``fn`` on the batch. While a batch runs, new
requests queue up, so a busy model naturally gets full batches and an idle one answers a
lone request after at most ``max_wait_s``. Results go back to each caller in order.

Failures stay with their item: ``fn`` may return an exception in place of a result, and
when ``fn`` raises for a whole batch the batcher re-runs the items one by one, so one
poison input costs its caller an error and nobody else anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)

BatchFn = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


@dataclass
class BatchStats:
    """What the batcher did: for tests, logs and benchmarks."""

    batches: int = 0
    items: int = 0
    sizes: Counter[int] = field(default_factory=Counter)
    isolated_retries: int = 0

    @property
    def max_size(self) -> int:
        return max(self.sizes, default=0)


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    enqueued: float


class DynamicBatcher(Generic[T, R]):
    """Groups concurrent ``submit`` calls into calls of ``fn`` on lists.

    ``max_concurrent_batches`` > 1 lets a new batch start while earlier ones are still
    running (useful when ``fn`` sends to remote replicas); order within each caller's
    ``submit_many`` is kept either way.
    """

    def __init__(
        self,
        fn: BatchFn[T, R],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_concurrent_batches: int = 1,
        max_queue: int = 100_000,
        name: str = "batcher",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be an integer >= 1, got {max_batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        if max_concurrent_batches < 1:
            raise ValueError(f"max_concurrent_batches must be >= 1, got {max_concurrent_batches}")
        self._fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.name = name
        self.stats = BatchStats()
        self._max_queue = max_queue
        self._max_concurrent = max_concurrent_batches
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        self._queue: asyncio.Queue[_Pending[T, R]] = asyncio.Queue(maxsize=self._max_queue)
        self._slots = asyncio.Semaphore(self._max_concurrent)
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # asyncio primitives belong to one loop: a client reused from a new loop (one
            # asyncio.run per request, per test) starts afresh; the old loop's work died
            # with it.
            self._loop = loop
            self._reset()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = loop.create_task(self._run(), name=f"{self.name}-loop")

    async def submit(self, item: T) -> R:
        """The result for one item; raises whatever ``fn`` reported for it."""
        self._ensure_started()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(item, future, time.monotonic()))
        return await future

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Results for many items, in their order; raises the first item's error, if any.

        The items are queued together, so they share batches with each other and with
        concurrent callers.
        """
        if not items:
            return []
        return list(await asyncio.gather(*(self.submit(item) for item in items)))

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            deadline = first.enqueued + self.max_wait_s
            while len(batch) < self.max_batch_size:
                # Take what is already queued without waiting at all.
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            live = [p for p in batch if not p.future.done()]  # callers may have given up
            if not live:
                continue
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._execute(live))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _execute(self, batch: list[_Pending[T, R]]) -> None:
        try:
            self.stats.batches += 1
            self.stats.items += len(batch)
            self.stats.sizes[len(batch)] += 1
            try:
                results = await self._call(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0], exc)
                    return
                # Which item broke the batch? Only a one-by-one run can say.
                logger.warning(
                    "%s: batch of %s failed (%s); retrying items one by one",
                    self.name,
                    len(batch),
                    exc,
                )
                self.stats.isolated_retries += 1
                for pending in batch:
                    try:
                        (result,) = await self._call([pending])
                    except Exception as single_exc:
                        result = single_exc
                    _settle(pending, result)
                return
            for pending, result in zip(batch, results, strict=True):
                _settle(pending, result)
        finally:
            self._slots.release()

    async def _call(self, batch: list[_Pending[T, R]]) -> Sequence[R | BaseException]:
        results = await self._fn([p.item for p in batch])
        if len(results) != len(batch):
            raise RuntimeError(
                f"{self.name}: batch function returned {len(results)} results "
                f"for {len(batch)} inputs"
            )
        return results

    async def aclose(self) -> None:
        """Stop taking requests; running batches finish, queued callers get an error."""
        self._closed = True
        if self._loop is not asyncio.get_running_loop():
            return  # started on another loop (or never): nothing here to stop
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            _settle(pending, RuntimeError(f"{self.name} closed before this item ran"))


def _settle(pending: _Pending[T, R], result: R | BaseException) -> None:
    if pending.future.done():
        return
    if isinstance(result, BaseException):
        pending.future.set_exception(result)
    else:
        pending.future.set_result(result)
