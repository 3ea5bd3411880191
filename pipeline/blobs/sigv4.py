"""AWS Signature Version 4 for S3 requests with an ``Authorization`` header.

Only what a blob store needs: one request, its whole payload hashed (no chunked signing,
no presigned URLs). Checked against the worked example of Amazon's S3 documentation.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_uri(path: str) -> str:
    """The path with every byte but unreserved characters and ``/`` percent-encoded (S3
    encodes once, unlike the other services)."""
    return quote(path or "/", safe="/-_.~")


def sign(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    when: datetime,
    service: str = "s3",
) -> str:
    """The ``Authorization`` header value for a request carrying ``headers``.

    ``headers`` must include ``host``, ``x-amz-date`` (``when`` as ``%Y%m%dT%H%M%SZ``) and
    ``x-amz-content-sha256`` (``payload_sha256``); every header given is signed.
    """
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    lowered = {k.lower().strip(): " ".join(v.strip().split()) for k, v in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed = ";".join(names)
    request = "\n".join(
        [method, canonical_uri(path), query, canonical_headers, signed, payload_sha256]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={access_key}/{scope},SignedHeaders={signed},Signature={signature}"
    )
