"""Request bodies that lie about their size, over a raw socket to the real server.

The answer must come while the body is still being sent: a server that reads everything
and then refuses has already paid for it (a 300 MB ``Transfer-Encoding: Chunked`` body was
read and parsed before auth). Each test counts the bytes the client got to send.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.settings import Settings
from serve.guards import MAX_JSON_BODY, MAX_UPLOAD_BODY
from tests.reliability.edge import Served, edge_settings, send_slowly, serve_api

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    settings = edge_settings(
        Settings.defaults().with_overrides(
            core={"data_dir": tmp_path_factory.mktemp("edge-bodies")},
            redis={"url": redis_url},
            siglip={"model": "tiny"},
        ),
        rate_limit_per_minute=60_000,
        body_timeout_s=1.5,
    )
    with serve_api(settings) as running:
        yield running


def _head(path: str, content_type: str, framing: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


def _chunked(total: int, piece: bytes = b"x") -> Iterator[bytes]:
    for _ in range(total // CHUNK):
        yield b"%x\r\n%s\r\n" % (CHUNK, piece * CHUNK)
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("coding", ["Chunked", "chunked", "CHUNKED", "gzip, Chunked"])
def test_a_chunked_json_body_is_refused_at_the_limit_in_any_case(
    served: Served, coding: str
) -> None:
    total = 64 * 1024 * 1024
    answer = send_slowly(
        served.port,
        _head("/v1/sellers/s1/sync", "application/json", f"Transfer-Encoding: {coding}"),
        _chunked(total, b"["),
    )
    assert answer.status == 413, answer.head
    assert b"connection: close" in answer.head.lower()
    # Refused near the limit: at most the limit plus what the sockets buffer in between.
    assert answer.sent < MAX_JSON_BODY + 8 * 1024 * 1024, answer.sent


def test_a_chunked_multipart_upload_is_capped_while_streaming(served: Served) -> None:
    boundary = "edgeboundary"
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
        f'filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()

    def parts() -> Iterator[bytes]:
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
        yield from _chunked(96 * 1024 * 1024, b"\x89")

    answer = send_slowly(
        served.port,
        _head(
            "/v1/search/image",
            f"multipart/form-data; boundary={boundary}",
            "Transfer-Encoding: Chunked",
        ),
        parts(),
    )
    assert answer.status == 413, answer.head
    assert answer.sent < MAX_UPLOAD_BODY + 8 * 1024 * 1024, answer.sent


def test_a_declared_oversize_body_is_refused_before_it_is_sent(served: Served) -> None:
    answer = send_slowly(
        served.port,
        _head("/v1/sellers/s1/sync", "application/json", "Content-Length: 300000000"),
        iter([b"{" * CHUNK] * 64),
    )
    assert answer.status == 413, answer.head
    assert answer.sent < 8 * 1024 * 1024


def test_a_body_that_trickles_in_gets_a_408(served: Served) -> None:
    answer = send_slowly(
        served.port,
        _head("/v1/sellers/s1/sync", "application/json", "Content-Length: 1000"),
        iter([b"{"] * 100),
        pause_s=0.1,
        timeout=8,
    )
    assert answer.status == 408, answer.head
    assert answer.sent < 1000
