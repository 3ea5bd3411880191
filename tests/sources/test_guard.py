"""The SSRF guard against every spelling of a private address."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from pipeline.errors import UnsafeURLError
from pipeline.fetch.guard import UrlGuard, ip_literal, is_public_address, parse_legacy_ipv4

PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://%31%32%37.0.0.1/",
    "http://１２７.０.０.１/",
    "http://127.0.0.1./",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::10.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo carrying 10.0.0.1
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://localhost/",
    "http://LOCALHOST:8080/",
    "https://localhost./admin",
]


def check(guard: UrlGuard, url: str) -> object:
    return asyncio.run(guard.check(url))


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_spellings_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check(UrlGuard(), url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "javascript:alert(1)",
        "http://user:pass@example.com/",
        "http://127.0.0.1\\@example.com/",
        "http:///nohost",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com/\r\nX-Injected: 1",
        "",
        "http://" + "a" * 5000 + ".com/",
    ],
)
def test_malformed_and_foreign_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check(UrlGuard(), url)


def test_legacy_ipv4_parsing_matches_inet_aton() -> None:
    assert parse_legacy_ipv4("127.1") == ipaddress.IPv4Address("127.0.0.1")
    assert parse_legacy_ipv4("0x7f.1") == ipaddress.IPv4Address("127.0.0.1")
    assert parse_legacy_ipv4("10.1.65535") == ipaddress.IPv4Address("10.1.255.255")
    assert parse_legacy_ipv4("4294967295") == ipaddress.IPv4Address("255.255.255.255")
    assert parse_legacy_ipv4("4294967296") is None
    assert parse_legacy_ipv4("1.2.3.256") is None
    assert parse_legacy_ipv4("08.0.0.1") is None  # 08 is not octal, not a number either
    assert parse_legacy_ipv4("example.com") is None
    scoped = ip_literal("fe80::1%eth0")
    assert scoped is not None and not is_public_address(scoped)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_public_literal_passes_without_dns() -> None:
    checked = asyncio.run(UrlGuard().check("https://8.8.8.8:8443/feed.csv"))
    assert str(checked.address) == "8.8.8.8"
    assert checked.port == 8443 and not checked.allow_listed


def test_dns_name_resolving_to_loopback_is_refused() -> None:
    # localhost is a DNS name here (resolved through getaddrinfo), not a literal.
    with pytest.raises(UnsafeURLError, match="non-public address"):
        check(UrlGuard(), "http://localhost:9/")


def test_unresolvable_name_is_refused_with_a_reason() -> None:
    with pytest.raises(UnsafeURLError, match="does not resolve"):
        check(UrlGuard(), "http://no-such-host.invalid/")


def test_allow_list_by_host_and_port() -> None:
    guard = UrlGuard(["127.0.0.1:8001", "localhost"])
    assert asyncio.run(guard.check("http://127.0.0.1:8001/")).allow_listed
    assert asyncio.run(guard.check("http://0x7f000001:8001/")).allow_listed  # same address
    assert asyncio.run(guard.check("http://localhost:1234/")).allow_listed
    with pytest.raises(UnsafeURLError):
        check(guard, "http://127.0.0.1:8002/")
    with pytest.raises(UnsafeURLError):
        check(guard, "http://127.0.0.2:8001/")
    with pytest.raises(UnsafeURLError):
        check(guard, "http://10.0.0.1:8001/")
