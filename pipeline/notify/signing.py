"""Webhook signatures: ``X-CatalogSync-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the seller's webhook secret, over the bytes
``"<t>." + body``. The timestamp is inside the signed bytes, so a receiver that also
checks it is recent (five minutes by default) cannot be fooled by a replayed request.
A receiver verifies it like this (any language)::

    t, v1 = parse(header)
    expected = hmac_sha256(secret, f"{t}.".encode() + raw_body).hexdigest()
    ok = constant_time_equal(expected, v1) and abs(now - int(t)) <= 300
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-CatalogSync-Signature"
EVENT_HEADER = "X-CatalogSync-Event"
DELIVERY_HEADER = "X-CatalogSync-Delivery"
TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str, body: bytes, header: str, *, now: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within
    ``tolerance_s`` of ``now``. Never raises: a malformed header is simply False. Several
    ``v1`` values (a secret being rotated) pass when any of them matches."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)
