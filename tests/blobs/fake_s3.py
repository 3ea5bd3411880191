"""A loopback server speaking S3's wire format for PUT, GET and HEAD object (path-style).

It checks what S3 checks: a SigV4 ``Authorization`` header whose signature matches the
request (recomputed with the known secret), a ``x-amz-content-sha256`` that matches the
body, and answers S3's XML errors (``NoSuchKey``, ``SignatureDoesNotMatch``,
``XAmzContentSHA256Mismatch``, ``NoSuchBucket``). It counts requests per verb.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.blobs.sigv4 import sign
from tests.loopback import LoopbackHTTPServer

ACCESS_KEY = "AKIDLOOPBACKTEST0001"
SECRET_KEY = "loopback/secret/key/for/tests/only/0000"
REGION = "eu-test-1"
BUCKET = "catalog-images"

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/s3/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_PUT(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        key = self._authorized("PUT", body)
        if key is not None:
            with self.server.lock:
                self.server.objects[key] = body
            self._reply(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})  # noqa: S324

    def do_GET(self) -> None:  # noqa: N802
        key = self._authorized("GET", b"")
        if key is not None:
            with self.server.lock:
                body = self.server.objects.get(key)
            if body is None:
                self._error(404, "NoSuchKey")
            else:
                self._reply(200, body, {"Content-Type": "application/octet-stream"})

    def do_HEAD(self) -> None:  # noqa: N802
        key = self._authorized("HEAD", b"")
        if key is not None:
            with self.server.lock:
                body = self.server.objects.get(key)
            if body is None:
                self.send_response(404)
                self.end_headers()
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

    def _authorized(self, method: str, body: bytes) -> str | None:
        """The object key when the request is signed right; otherwise answers and None."""
        with self.server.lock:
            self.server.requests[method] += 1
        path = urlsplit(self.path).path
        bucket, _, key = unquote(path).lstrip("/").partition("/")
        match = _AUTH.match(self.headers.get("authorization", ""))
        if match is None or match["key"] != ACCESS_KEY:
            self._error(403, "InvalidAccessKeyId")
            return None
        payload = self.headers.get("x-amz-content-sha256", "")
        if payload != hashlib.sha256(body).hexdigest():
            self._error(400, "XAmzContentSHA256Mismatch")
            return None
        signed = {name: self.headers.get(name, "") for name in match["signed"].split(";")}
        when = datetime.strptime(self.headers.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")
        expected = sign(
            method=method,
            path=path,
            query="",
            headers=signed,
            payload_sha256=payload,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=match["region"],
            when=when,
        )
        if match["region"] != REGION or expected.rsplit("=", 1)[1] != match["sig"]:
            self._error(403, "SignatureDoesNotMatch")
            return None
        if bucket != BUCKET:
            self._error(404, "NoSuchBucket")
            return None
        return key

    def _error(self, status: int, code: str) -> None:
        body = f"<?xml version='1.0'?><Error><Code>{code}</Code></Error>".encode()
        if self.command == "HEAD":
            self.send_response(status)
            self.end_headers()
            return
        self._reply(status, body, {"Content-Type": "application/xml"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(LoopbackHTTPServer):
    objects: dict[str, bytes]
    requests: Counter[str]
    lock: threading.Lock


class FakeS3:
    def __init__(self) -> None:
        self._server = _Server(_Handler)
        self._server.objects = {}
        self._server.requests = Counter()
        self._server.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/{BUCKET}"

    @property
    def objects(self) -> dict[str, bytes]:
        return self._server.objects

    def requests(self, method: str) -> int:
        with self._server.lock:
            return self._server.requests[method]

    def start(self) -> FakeS3:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
