"""Seller webhooks: sync events from the ledger's events stream, stored in a durable
outbox, POSTed with an HMAC-SHA256 signature, retried with backoff, dead-lettered."""

from pipeline.notify.signing import SIGNATURE_HEADER, sign, verify
from pipeline.notify.webhooks import WebhookNotifier, check_webhook_url

__all__ = ["SIGNATURE_HEADER", "WebhookNotifier", "check_webhook_url", "sign", "verify"]
