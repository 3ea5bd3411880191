"""Allow-list decisions are made per address: an allow-listed address does not vouch for
the other addresses of a name that resolves to it."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from pipeline.errors import UnsafeURLError
from pipeline.fetch import SafeFetcher, UrlGuard
from pipeline.fetch.guard import IPAddress, SplitURL
from pipeline.settings import Settings
from tests.security.canary import TcpCanary
from tests.sources.httpserver import TestServer


class TwoAddressGuard(UrlGuard):
    """The guard with a name's DNS answer (several addresses) fixed by the test."""

    def __init__(self, allowed: list[str], answers: dict[str, list[str]]) -> None:
        super().__init__(allowed)
        self.answers = answers

    async def _resolve(self, split: SplitURL) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in self.answers[split.host]]


def test_an_allow_listed_address_does_not_let_the_names_other_address_through(
    settings: Settings,
) -> None:
    # The name resolves to the listed 127.0.0.1 (where nothing answers on that port) and
    # to 127.0.0.2, where a canary listens: a connection falling over to the second
    # address would reach a host nobody allowed.
    with TcpCanary("127.0.0.2") as canary:
        port = canary.port
        guard = TwoAddressGuard([f"127.0.0.1:{port}"], {"shop.test": ["127.0.0.1", "127.0.0.2"]})

        async def main() -> None:
            async with SafeFetcher(settings.catalog, guard=guard) as fetcher:
                await fetcher.fetch(f"http://shop.test:{port}/feed")

        with pytest.raises(UnsafeURLError, match="127.0.0.2"):
            asyncio.run(main())
        assert canary.received == []


def test_the_allow_listed_address_itself_and_a_listed_name_still_pass(server: TestServer) -> None:
    by_address = TwoAddressGuard([f"127.0.0.1:{server.port}"], {"shop.test": ["127.0.0.1"]})
    checked = asyncio.run(by_address.check(f"http://shop.test:{server.port}/"))
    assert checked.allow_listed and [str(a) for a in checked.addresses] == ["127.0.0.1"]
    # An entry naming the host vouches for every address it resolves to.
    by_name = TwoAddressGuard(["shop.test"], {"shop.test": ["127.0.0.2", "127.0.0.1"]})
    checked = asyncio.run(by_name.check(f"http://shop.test:{server.port}/"))
    assert checked.allow_listed and len(checked.addresses) == 2
