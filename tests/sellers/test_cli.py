"""``catalog-sync sellers ...`` against a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.sellers import RedisSellerDirectory, SellerTier
from tests.keys import KEYS


def test_sellers_cli(redis_client: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    env = {
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path),
        "CATALOG_ALLOWED_HOSTS": "127.0.0.1:8999",
    }
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run(
        "sellers", "set", "shop1", "--tier", "premium", "--catalog-url",
        "https://wa.me/c/15550001", "--webhook-url", "http://127.0.0.1:8999/h", "--json",
    )  # fmt: skip
    assert code == 0, out
    shown = json.loads(out)
    assert shown["tier"] == "premium" and shown["webhook_secret"].startswith("whsec_")
    profile = RedisSellerDirectory(redis_client, KEYS).get("shop1")
    assert profile is not None and profile.tier is SellerTier.PREMIUM
    assert profile.webhook_secret == shown["webhook_secret"]
    code, out = run("sellers", "show", "shop1", "--json")
    assert code == 0 and 'webhook_secret"' not in out and json.loads(out)["priority"] == "high"
    code, out = run("sellers", "set", "shop1", "--webhook-url", "http://192.168.1.9/h")
    assert code == 1 and "only to public addresses" in out, out  # details: the log
    code, out = run("sellers", "set", "shop1", "--tier", "gold")
    assert code == 2
    code, out = run("sellers", "list")
    assert code == 0 and "shop1" in out and "premium" in out
    code, out = run("sellers", "scheduler")
    assert code == 0 and "leader: none" in out and "shop1" in out
    code, out = run("sellers", "webhook-dead")
    assert code == 0 and json.loads(out.splitlines()[-1])["pending"] == 0
    assert run("sellers", "remove", "shop1")[0] == 0
    assert run("sellers", "show", "shop1")[0] == 1
