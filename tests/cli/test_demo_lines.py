"""What ``catalog-sync demo`` prints once it serves: the URLs and a session admin key."""

from __future__ import annotations

import re

import redis

from pipeline.cli.demo import SESSION_KEY_TTL_S, serving_lines
from pipeline.keys import ApiKeyStore
from pipeline.settings import Settings
from tests.keys import KEYS


def test_serving_lines_carry_the_dashboard_and_a_working_admin_key(
    redis_client: redis.Redis,
) -> None:
    settings = Settings.defaults()
    text = serving_lines(redis_client, settings, "http://127.0.0.1:8123", "http://127.0.0.1:9")
    assert "search:     http://127.0.0.1:8123/search" in text
    assert "dashboard:  http://127.0.0.1:8123/\n" in text
    found = re.search(r"admin key:  (\S+)", text)
    assert found is not None, text
    store = ApiKeyStore(redis_client, KEYS)
    principal = store.verify(found.group(1))
    assert principal is not None and principal.admin and principal.seller_id is None
    (info,) = store.list()  # an ordinary stored key: listed, revocable, expiring
    assert info.expires_at is not None
    assert SESSION_KEY_TTL_S - 60 < info.expires_at - info.created <= SESSION_KEY_TTL_S + 1
