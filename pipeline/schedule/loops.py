"""The seller-facing loops a worker runs beside its dispatcher: the re-sync scheduler
(``SCHEDULE_ENABLED``) and the webhook notifier (``WEBHOOK_ENABLED``), both on by default.
Every worker runs both: the scheduler's lock makes one of them act, and the notifier's
outbox lets several share the work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis

from pipeline.ledger import RedisLedger
from pipeline.notify.webhooks import WebhookNotifier
from pipeline.schedule.scheduler import ResyncScheduler
from pipeline.settings import Settings
from pipeline.syncs import url_checker

logger = logging.getLogger(__name__)

STOP_GRACE_S = 15.0


@contextlib.asynccontextmanager
async def seller_loops(
    settings: Settings, ledger: RedisLedger, client: redis.Redis
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run the enabled loops for the duration of the ``async with``; stop them (the
    scheduler gives its lock up) on the way out."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if settings.schedule.enabled:
        scheduler = ResyncScheduler(
            client, ledger, settings.schedule, check_url=url_checker(settings.catalog)
        )
        tasks.append(asyncio.create_task(scheduler.run(stop), name="resync-scheduler"))
    if settings.webhooks.enabled:
        notifier = WebhookNotifier(client, ledger, settings)
        tasks.append(asyncio.create_task(notifier.run(stop), name="webhooks"))
    try:
        yield tasks
    finally:
        stop.set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
            for task in pending:
                logger.warning("%s did not stop in %s s; cancelled", task.get_name(), STOP_GRACE_S)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
