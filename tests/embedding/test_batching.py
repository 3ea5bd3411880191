"""The dynamic batcher as plain asyncio, no model and no cluster."""

from __future__ import annotations

import asyncio
import time

import pytest

from pipeline.embedding.batching import DynamicBatcher
from pipeline.errors import PermanentError


class Recorder:
    """A batch function that doubles numbers, records batch sizes and can be told to fail."""

    def __init__(self, delay: float = 0.0, poison: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.poison = poison
        self.concurrent = 0
        self.max_concurrent = 0

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            await asyncio.sleep(self.delay)
            if self.poison is not None and self.poison in items:
                raise ValueError(f"poison {self.poison}")
            return [PermanentError(f"negative {i}") if i < 0 else i * 2 for i in items]
        finally:
            self.concurrent -= 1


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


def test_order_kept_and_sizes_bounded() -> None:
    fn = Recorder(delay=0.01)

    async def main() -> list[list[int]]:
        batcher = DynamicBatcher(fn, max_batch_size=8, max_wait_s=0.05)
        results = await asyncio.gather(
            *(batcher.submit_many(list(range(k * 10, k * 10 + 10))) for k in range(10))
        )
        await batcher.aclose()
        return results

    results = run(main())
    assert results == [[i * 2 for i in range(k * 10, k * 10 + 10)] for k in range(10)]
    sizes = [len(b) for b in fn.batches]
    assert max(sizes) <= 8
    assert sum(sizes) == 100
    assert max(sizes) == 8  # 100 queued items must have filled some batches


def test_concurrent_single_calls_form_batches() -> None:
    fn = Recorder(delay=0.02)

    async def main() -> list[int]:
        batcher = DynamicBatcher(fn, max_batch_size=16, max_wait_s=0.05)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(40)))
        assert batcher.stats.items == 40
        assert batcher.stats.max_size > 1
        await batcher.aclose()
        return list(out)

    assert run(main()) == [i * 2 for i in range(40)]
    assert len(fn.batches) < 40


def test_lone_request_waits_at_most_max_wait() -> None:
    fn = Recorder()

    async def main() -> float:
        batcher = DynamicBatcher(fn, max_batch_size=64, max_wait_s=0.05)
        start = time.monotonic()
        assert await batcher.submit(3) == 6
        elapsed = time.monotonic() - start
        await batcher.aclose()
        return elapsed

    elapsed = run(main())
    assert 0.04 <= elapsed < 1.0
    assert fn.batches == [[3]]


def test_per_item_error_stays_with_its_item() -> None:
    fn = Recorder()

    async def main() -> list[object]:
        batcher = DynamicBatcher(fn, max_batch_size=8, max_wait_s=0.02)
        out = await asyncio.gather(*(batcher.submit(i) for i in (1, -2, 3)), return_exceptions=True)
        await batcher.aclose()
        return list(out)

    one, two, three = run(main())
    assert one == 2 and three == 6
    assert isinstance(two, PermanentError) and "negative -2" in str(two)
    assert len(fn.batches) == 1


def test_failing_batch_is_split_to_isolate_the_poison_item() -> None:
    fn = Recorder(poison=5)

    async def main() -> tuple[list[object], int]:
        batcher = DynamicBatcher(fn, max_batch_size=8, max_wait_s=0.02)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(8)), return_exceptions=True)
        retries = batcher.stats.isolated_retries
        await batcher.aclose()
        return list(out), retries

    out, retries = run(main())
    assert retries == 1
    for i, result in enumerate(out):
        if i == 5:
            assert isinstance(result, ValueError)
        else:
            assert result == i * 2
    assert fn.batches[0] == list(range(8))
    assert all(len(b) == 1 for b in fn.batches[1:])


def test_submit_many_raises_the_items_error() -> None:
    async def main() -> None:
        batcher = DynamicBatcher(Recorder(), max_batch_size=4, max_wait_s=0.0)
        with pytest.raises(PermanentError, match="negative -1"):
            await batcher.submit_many([1, -1, 2])
        assert await batcher.submit_many([]) == []
        await batcher.aclose()

    run(main())


def test_wrong_result_count_fails_every_item() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    async def main() -> None:
        batcher = DynamicBatcher(short, max_batch_size=4, max_wait_s=0.01)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
        # A single item gets zero results back too, so every caller sees the error.
        assert all(isinstance(r, RuntimeError) for r in out)
        await batcher.aclose()

    run(main())


def test_concurrent_batches_are_bounded() -> None:
    fn = Recorder(delay=0.05)

    async def main() -> None:
        batcher = DynamicBatcher(fn, max_batch_size=2, max_wait_s=0.0, max_concurrent_batches=3)
        await asyncio.gather(*(batcher.submit(i) for i in range(20)))
        await batcher.aclose()

    run(main())
    assert fn.max_concurrent == 3


def test_cancelled_caller_does_not_break_others() -> None:
    fn = Recorder(delay=0.05)

    async def main() -> None:
        batcher = DynamicBatcher(fn, max_batch_size=4, max_wait_s=0.01)
        doomed = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0)
        doomed.cancel()
        assert await batcher.submit(2) == 4
        await batcher.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.submit(3)

    run(main())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch_size": 0, "max_wait_s": 0.0}, "max_batch_size must be an integer >= 1"),
        ({"max_batch_size": 1, "max_wait_s": -1.0}, "max_wait_s must be >= 0"),
        ({"max_batch_size": 1, "max_wait_s": 0.0, "max_concurrent_batches": 0}, "concurrent"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DynamicBatcher(Recorder(), **kwargs)  # type: ignore[arg-type]
