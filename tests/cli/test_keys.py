"""``catalog-sync keys list|revoke`` against a real redis-server, through click."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from pipeline.cli.main import main
from pipeline.keys import ApiKeyStore
from tests.keys import KEYS

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(redis_client: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[Invoke]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level  # the CLI configures logging for the process
    runner = CliRunner()
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    yield invoke
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_keys_list_shows_ids_never_secrets(invoke: Invoke, redis_client: redis.Redis) -> None:
    store = ApiKeyStore(redis_client, KEYS)
    admin = store.create(seller_id=None, admin=True, ttl_s=3600)
    seller = store.create(seller_id="shop1", ttl_s=7 * 86400)
    admin_id = store.verify(admin).key_id  # type: ignore[union-attr]
    result = invoke("keys", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["admin"], r["seller_id"]) for r in rows] == [(True, None), (False, "shop1")]
    assert rows[0]["key_id"] == admin_id
    assert 3500 < rows[0]["expires_at"] - rows[0]["created"] <= 3601
    table = invoke("keys", "list")
    assert table.exit_code == 0 and admin_id in table.output and "seller shop1" in table.output
    for out in (result.output, table.output):
        assert admin not in out and seller not in out and admin[4:16] not in out


def test_keys_revoke_by_id(invoke: Invoke, redis_client: redis.Redis) -> None:
    store = ApiKeyStore(redis_client, KEYS)
    kept = store.create(seller_id="shop1")
    gone = store.create(seller_id="shop2")
    gone_id = store.verify(gone).key_id  # type: ignore[union-attr]
    result = invoke("keys", "revoke", gone_id[:8])
    assert result.exit_code == 0 and "revoked" in result.output, result.output
    assert store.verify(gone) is None and store.verify(kept) is not None
    again = invoke("keys", "revoke", gone_id)
    assert again.exit_code == 1 and "no key with id" in again.output
    bad = invoke("keys", "revoke", "not-hex!")
    assert bad.exit_code == 2 and "hex" in bad.output
    listed = invoke("keys", "list", "--json")
    assert [json.loads(line)["seller_id"] for line in listed.output.splitlines()] == ["shop1"]


def test_keys_list_empty(invoke: Invoke) -> None:
    result = invoke("keys", "list")
    assert result.exit_code == 0 and "no keys" in result.output
