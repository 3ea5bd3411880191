"""A local HTTP server speaking Gemini's ``generateContent`` wire format (REST, JSON).

Accepts ``POST /{v1|v1beta}/models/{model}:generateContent`` with an API key header, checks
the request's shape (contents/parts, an inline image, generationConfig with a JSON mime
type and a response schema) and answers from a script of canned replies.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackHTTPServer

_PATH = re.compile(r"^/(v1|v1beta)/models/([\w.\-]+):generateContent$")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def verdict_reply(decision: str = "approved", **extra: Any) -> Reply:
    verdict = {"decision": decision, "reasons": [], "category": "none", "confidence": 0.93}
    verdict.update(extra)
    return text_reply(json.dumps(verdict))


def text_reply(text: str, finish_reason: str = "STOP") -> Reply:
    return Reply(
        body={
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 30},
            "modelVersion": "gemini-2.5-flash",
        }
    )


def error_reply(status: int, grpc_status: str, message: str, **headers: str) -> Reply:
    body = {"error": {"code": status, "message": message, "status": grpc_status}}
    return Reply(status=status, body=body, headers=headers)


@dataclass
class Seen:
    version: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeGemini:
    """Replies are taken from ``script`` in order; when it is empty, ``default`` answers."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.script: list[Reply] = []
        self.default = verdict_reply()
        self.seen: list[Seen] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._server: LoopbackHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.base_url

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = fake.answer(self.path, dict(self.headers), body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._server = LoopbackHTTPServer(Handler).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        match = _PATH.match(path.split("?")[0])
        if match is None:
            return error_reply(404, "NOT_FOUND", f"no route {path}")
        if lower.get("x-goog-api-key") != self.api_key:
            return error_reply(400, "INVALID_ARGUMENT", "API key not valid. API_KEY_INVALID")
        body = json.loads(raw)
        with self._lock:
            self.seen.append(Seen(match.group(1), match.group(2), lower, body))
            self.problems += _check_request(body)
            return self.script.pop(0) if self.script else self.default


def _check_request(body: dict[str, Any]) -> list[str]:
    """What the real endpoint needs; a problem is recorded and asserted on by the tests."""
    problems = []
    contents = body.get("contents") or []
    if not contents or not contents[0].get("parts"):
        problems.append("no contents/parts")
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") != "application/json":
        problems.append(f"responseMimeType is {config.get('responseMimeType')!r}")
    if "responseSchema" not in config and "responseJsonSchema" not in config:
        problems.append("no response schema")
    if not body.get("systemInstruction"):
        problems.append("no system instruction (policy prompt)")
    return problems


def image_parts(seen: Seen) -> list[dict[str, Any]]:
    """The request's inline images as {"mimeType", "data"}; the API takes camel or snake case."""
    found = []
    for part in seen.body["contents"][0]["parts"]:
        inline = part.get("inlineData") or part.get("inline_data")
        if inline is not None:
            mime = inline.get("mimeType") or inline.get("mime_type")
            found.append({"mimeType": mime, "data": inline["data"]})
    return found
