"""Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2 ...), for a cluster.

Path-style requests (``<endpoint>/<bucket>/<prefix><h[0:2]>/<h>``) signed with SigV4 over
plain httpx: three verbs (PUT, GET, HEAD object) do not need an SDK. Every worker and API
replica reads the same bucket, so an image fetched once by the scrape is there for all.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from pipeline.blobs.base import BlobNotFound, check_digest, sha256_hex, verified
from pipeline.blobs.sigv4 import EMPTY_SHA256, canonical_uri, sign
from pipeline.errors import BackendUnavailable, ConfigError


class S3BlobStore:
    """A :class:`pipeline.blobs.BlobStore` in one bucket. ``url`` is the endpoint and the
    bucket, path-style: ``https://s3.eu-west-1.amazonaws.com/my-bucket``."""

    def __init__(
        self,
        url: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "images/",
        timeout: float = 30.0,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        parts = urlsplit(url)
        bucket = parts.path.strip("/")
        if parts.scheme not in ("http", "https") or not parts.netloc or not bucket:
            raise ConfigError(
                f"IMAGE_STORE_URL must be http(s)://host[:port]/bucket, got {url[:200]!r}"
            )
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._bucket_path = f"/{bucket}"
        self._prefix = prefix
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._max_bytes = max_bytes
        # trust_env=False: the operator's endpoint, never a proxy from the environment.
        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def key(self, digest: str) -> str:
        check_digest(digest)
        return f"{self._prefix}{digest[:2]}/{digest}"

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        if self.has(digest):  # a HEAD costs less than sending the image again
            return digest
        response = self._request("PUT", digest, data, {"content-type": "application/octet-stream"})
        if response.status_code != 200:
            raise BackendUnavailable(self._describe("PUT", digest, response))
        return digest

    def get(self, digest: str) -> bytes:
        response = self._request("GET", digest)
        if response.status_code == 404:
            raise BlobNotFound(f"no image {digest} in {self._base}{self._bucket_path}")
        if response.status_code != 200:
            raise BackendUnavailable(self._describe("GET", digest, response))
        return verified(response.content, digest)

    def has(self, digest: str) -> bool:
        response = self._request("HEAD", digest)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise BackendUnavailable(self._describe("HEAD", digest, response))
        return True

    def close(self) -> None:
        self._client.close()

    def _request(
        self, method: str, digest: str, body: bytes = b"", extra: dict[str, str] | None = None
    ) -> httpx.Response:
        path = f"{self._bucket_path}/{self.key(digest)}"
        now = datetime.now(UTC)
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        headers = {
            "host": self._host,
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": payload,
            **(extra or {}),
        }
        headers["authorization"] = sign(
            method=method,
            path=path,
            query="",
            headers=headers,
            payload_sha256=payload,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            when=now,
        )
        url = self._base + canonical_uri(path)
        try:
            with self._client.stream(method, url, headers=headers, content=body or None) as resp:
                declared = resp.headers.get("content-length", "")
                if method == "GET" and declared.isdigit() and int(declared) > self._max_bytes:
                    raise BackendUnavailable(f"image store: {digest} is {declared} bytes")
                resp.read()
                return resp
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"image store {self._base} unreachable: {exc!r}") from exc

    def _describe(self, method: str, digest: str, response: httpx.Response) -> str:
        # S3 errors are small XML documents: the <Code> says which rule was broken.
        body = response.text[:300] if response.content else ""
        return f"image store {method} {digest}: HTTP {response.status_code} {body}".strip()
