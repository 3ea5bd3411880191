"""Every Lua script of the system: read from ``scripts/*.lua``, loaded once, run with EVALSHA.

A script is its preludes (``scripts/_*.lua``) followed by its own body, so helpers exist
once in source: the ledger's scripts start with ``_common.lua`` (events, parent
bookkeeping, dead-lettering), the leader lock's and the scheduler's with ``_lock.lua``
(the lock value's parse) and ``_fenced.lua``, the product store's with ``_products.lua``
(count buckets, the search generation bump). Scripts are registered
with ``SCRIPT LOAD`` when a ledger is built; if the server forgot them (restart, ``SCRIPT
FLUSH``) the ``NOSCRIPT`` reply makes us load again and retry, which is safe because a
script that was not found did not run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

logger = logging.getLogger(__name__)

Arg = str | int | float | bytes


@cache
def _source(name: str) -> str:
    return (resources.files("pipeline.ledger.scripts") / f"{name}.lua").read_text("utf-8")


class LuaScript:
    """One script: its text, its SHA1, and how to run it on a client or in a pipeline."""

    def __init__(self, name: str, *, preludes: Sequence[str] = ("_common",)) -> None:
        self.name = name
        self.source = "\n".join([*(_source(p) for p in preludes), _source(name)])
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def load(self, client: redis.Redis) -> None:
        client.script_load(self.source)

    def __call__(self, client: redis.Redis, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run the script; loads it first when the server does not know it."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            logger.debug("script %s not loaded on the server; loading it", self.name)
            self.load(client)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[Arg], args: Sequence[Arg]) -> None:
        """Queue a call on a pipeline; run it with :func:`execute_scripts`."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def load_scripts(client: redis.Redis, scripts: Sequence[LuaScript]) -> None:
    """``SCRIPT LOAD`` every script in one round trip (done once, when a store is built)."""
    pipe = client.pipeline(transaction=False)
    for script in scripts:
        pipe.script_load(script.source)
    pipe.execute()


def execute_scripts(
    client: redis.Redis, calls: Sequence[tuple[LuaScript, Sequence[Arg], Sequence[Arg]]]
) -> list[Any]:
    """Run many script calls in one round trip (a non-transactional pipeline).

    Calls the server did not know (``NOSCRIPT``) did not run: they are loaded and run
    again, alone. Any other error reply is raised after the whole batch was sent.
    """
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        script.queue(pipe, keys, args)
    results: list[Any] = pipe.execute(raise_on_error=False)
    for i, result in enumerate(results):
        if isinstance(result, NoScriptError):
            script, keys, args = calls[i]
            results[i] = script(client, keys, args)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results
