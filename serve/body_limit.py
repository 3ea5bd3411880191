"""Request-body limits enforced on the bytes as they arrive (pure ASGI, the outermost layer).

A limit checked on headers alone is a limit on what the client chose to declare: a body
sent with ``Transfer-Encoding: Chunked`` (any case, any coding) declares nothing. So the
body is counted here, message by message, whatever framing the server decoded; past the
route's limit the request gets a 413 and the connection is closed, before any parser,
key lookup or route sees more. A body must also arrive within a deadline (a 408 after),
so a client sending a byte a minute cannot hold a worker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
Asgi = Callable[[Scope, Receive, Send], Any]


UPLOAD_TIMEOUT_FACTOR = 4  # bodies over 1 MB: 4x API_BODY_TIMEOUT_S (12 MB in 120 s)


class _BodyRefused(Exception):
    """Raised into the app when its body broke a rule; the middleware answers instead."""


def _header_values(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers", []) if key.lower() == name]


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Counts request-body bytes as they arrive: 413 past ``limit_for(path)``, 408 when
    the whole body has not arrived within ``timeout_s`` (four times that for routes that
    take more than 1 MB), 400 for a malformed length."""

    def __init__(self, app: Asgi, *, limit_for: Callable[[str], int], timeout_s: float) -> None:
        self.app = app
        self._limit_for = limit_for
        self._timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope.get("path", ""))
        declared = _header_values(scope, b"content-length")
        if declared:
            if len(set(declared)) > 1 or not declared[0].strip().isdigit():
                await _answer(send, 400, "content-length must be one non-negative integer")
                return
            if int(declared[0]) > limit:
                await _answer(send, 413, f"body larger than {limit} bytes")
                return
        # A phone photo on a slow uplink needs longer than a 64 KB JSON body.
        timeout = self._timeout_s * (UPLOAD_TIMEOUT_FACTOR if limit > 1024 * 1024 else 1)
        await _Guarded(self.app, limit, timeout).run(scope, receive, send)


class _Guarded:
    """One request under the limit: wraps its receive and send."""

    def __init__(self, app: Asgi, limit: int, timeout_s: float) -> None:
        self._app = app
        self._limit = limit
        self._timeout_s = timeout_s
        self._received = 0
        self._body_done = False
        self._refusal: tuple[int, str] | None = None
        self._started = False
        self._deadline = 0.0

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._deadline = asyncio.get_running_loop().time() + self._timeout_s

        async def guarded_receive() -> Message:
            return await self._receive(receive)

        async def guarded_send(message: Message) -> None:
            if self._refusal is not None:
                return  # whatever the app answers to a refused body, ours goes instead
            if message["type"] == "http.response.start":
                self._started = True
            await send(message)

        try:
            await self._app(scope, guarded_receive, guarded_send)
        except Exception:
            # The app (a parser, a middleware) may wrap our exception or fail on its own
            # once its body was cut: either way the refusal is the answer.
            if self._refusal is None:
                raise
        if self._refusal is not None and not self._started:
            await _answer(send, *self._refusal)

    async def _receive(self, receive: Receive) -> Message:
        if self._refusal is not None:
            raise _BodyRefused(self._refusal[1])
        if self._body_done:
            message: Message = await receive()  # e.g. waiting for http.disconnect
            return message
        left = self._deadline - asyncio.get_running_loop().time()
        try:
            message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
        except TimeoutError:
            self._refusal = (408, f"the request body did not arrive within {self._timeout_s:g} s")
            raise _BodyRefused(self._refusal[1]) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                self._refusal = (413, f"body larger than {self._limit} bytes")
                raise _BodyRefused(self._refusal[1])
            self._body_done = not message.get("more_body", False)
        else:
            self._body_done = True  # disconnected
        return message
