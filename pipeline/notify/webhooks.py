"""The webhook notifier: a loop beside the dispatcher in every worker.

Each round it (1) *pumps*: reads the ledger's events stream after the outbox cursor,
turns the sync events of sellers with a webhook into deliveries and moves the cursor, in
one compare-and-set (so several workers never produce an event twice); then (2)
*delivers*: claims due deliveries under a lease, POSTs them concurrently (signed, through
the SSRF guard), and records each outcome: delivered; retried after
``WEBHOOK_BACKOFF_BASE_S x 2^(attempt-1)`` (capped at ``WEBHOOK_BACKOFF_MAX_S``, +/- 10 %
jitter, at least the receiver's ``Retry-After``); dead after ``WEBHOOK_MAX_ATTEMPTS``, or
at once for a URL the guard refuses or a 410 Gone. Delivery is at least once: a worker
dying mid-send lets the lease run out and another sends again with the same delivery id.

The seller's current URL and secret are read at send time: a changed URL gets the
pending deliveries, a removed webhook drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis

from pipeline.errors import UnsafeURLError
from pipeline.fetch.guard import UrlGuard
from pipeline.ledger import RedisLedger
from pipeline.ledger.retry import retry_delay
from pipeline.notify.events import SyncEventTranslator
from pipeline.notify.outbox import ClaimedDelivery, RedisWebhookOutbox
from pipeline.notify.sender import HttpWebhookSender, SendResult
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

EVENTS_PER_PUMP = 500
WEBHOOK_URL_RULE = (
    "webhook URL refused: it must be an http(s) URL without credentials whose host "
    "resolves only to public addresses"
)
JITTER = 0.1


async def check_webhook_url(url: str, guard: UrlGuard) -> None:
    """Refuse, at registration, a webhook URL we would never send to: not http(s), with
    credentials, resolving to a private/loopback/link-local address (unless allow-listed),
    or plain http to a host that is not allow-listed. Raises UnsafeURLError (a
    PermanentError) with the reason."""
    try:
        checked = await guard.check(url)
    except UnsafeURLError as exc:
        # The guard's reason may name the addresses a host resolves to: a DNS oracle for
        # whoever registers URLs. The caller learns the rule; the log keeps the reason.
        logger.info("webhook URL refused: %s", exc)
        raise UnsafeURLError(WEBHOOK_URL_RULE) from None
    if checked.scheme != "https" and not checked.allow_listed:
        raise UnsafeURLError("webhook URLs must use https (signed bodies still travel in clear)")


class WebhookNotifier:
    """Pumps ledger events into the outbox and sends due deliveries."""

    def __init__(
        self,
        client: redis.Redis,
        ledger: RedisLedger,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        jitter: float = JITTER,
    ) -> None:
        self._r = client
        self._ledger = ledger
        self._cfg = settings.webhooks
        self._catalog = settings.catalog
        self._clock = clock
        self._jitter = jitter
        self.outbox = RedisWebhookOutbox(client, ledger.keys)
        self.directory = RedisSellerDirectory(client, ledger.keys)
        self._translate = SyncEventTranslator(
            client, ledger, self.directory, progress_interval_s=self._cfg.progress_interval_s
        )
        self._sender: HttpWebhookSender | None = None

    def pump(self) -> int:
        """Turn new events into deliveries; how many were created (blocking Redis calls)."""
        created = 0
        for _ in range(20):  # bounded: at most 10,000 events a round
            cursor = self.outbox.cursor(self._ledger.events_key)
            events = self._ledger.events(after_id=cursor, count=EVENTS_PER_PUMP)
            if not events:
                return created
            deliveries = self._translate.translate(events)
            n = self.outbox.produce(cursor, events[-1].id, deliveries, self._clock())
            if n > 0:
                created += n
            if len(events) < EVENTS_PER_PUMP and n >= 0:
                return created
        return created

    async def deliver(self) -> int:
        """Send up to ``WEBHOOK_CONCURRENCY`` due deliveries; how many were attempted."""
        lease = self._cfg.timeout_s * 2 + 30
        due = await asyncio.to_thread(
            self.outbox.claim, self._clock(), self._cfg.concurrency, lease
        )
        # Sellers in parallel; one seller's deliveries in order (first attempts arrive in
        # event order; a retried one may arrive after later events: bodies carry created_at).
        by_seller: dict[str, list[ClaimedDelivery]] = {}
        for d in due:
            by_seller.setdefault(d.seller_id, []).append(d)
        await asyncio.gather(*(self._deliver_in_order(ds) for ds in by_seller.values()))
        return len(due)

    async def _deliver_in_order(self, deliveries: list[ClaimedDelivery]) -> None:
        for d in deliveries:
            await self._deliver_one(d)

    async def _deliver_one(self, d: ClaimedDelivery) -> None:
        hook = await asyncio.to_thread(self.directory.webhook, d.seller_id)
        if hook is None:
            await asyncio.to_thread(self.outbox.finish, d, "dead", error="webhook removed")
            return
        url, secret = hook
        if self._sender is None:
            self._sender = HttpWebhookSender(self._catalog, self._cfg.timeout_s)
        result = await self._sender.send(url, secret, d.event, d.id, d.body)
        await asyncio.to_thread(self._record, d, result)

    def _record(self, d: ClaimedDelivery, result: SendResult) -> None:
        attempt = d.attempt + 1
        if result.ok:
            self.outbox.finish(d, "delivered")
            logger.info("webhook %s %s to %s delivered", d.event, d.id, d.seller_id)
        elif result.permanent or attempt >= self._cfg.max_attempts:
            self.outbox.finish(d, "dead", error=result.error)
            logger.warning(
                "webhook %s to %s dead after %d attempt(s): %s",
                d.id,
                d.seller_id,
                attempt,
                result.error,
            )
        else:
            delay = self.backoff(attempt, result.retry_after)
            self.outbox.finish(d, "retry", due=self._clock() + delay, error=result.error)
            logger.info(
                "webhook %s to %s: %s; retry in %.1f s", d.id, d.seller_id, result.error, delay
            )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``."""
        return retry_delay(
            attempt,
            self._cfg.backoff_base_s,
            jitter=self._jitter,
            at_least_s=retry_after,
            cap_s=self._cfg.backoff_max_s,
        )

    async def round(self) -> None:
        await asyncio.to_thread(self.pump)
        await self.deliver()

    async def run(self, stop: asyncio.Event) -> None:
        """Pump and deliver every ``WEBHOOK_POLL_S`` until ``stop``; failures are logged
        and the next round tries again."""
        try:
            while not stop.is_set():
                try:
                    await self.round()
                except Exception:
                    logger.exception("webhook round failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._cfg.poll_s)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None
