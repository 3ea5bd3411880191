"""The API app on real Redis and an embedded keyword index, without a vector store or a
query encoder: for tests of routes that never search (docs, operators' routes, the
dashboard), where Milvus Lite and the model would cost seconds and prove nothing.

The two missing parts are placeholders that fail loudly when a route uses them.
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio as aredis

from pipeline.keys import ApiKeyStore
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import RedisLedger, RedisRateLimiter
from pipeline.products import RedisProductStore
from pipeline.search import QueryEncoder
from pipeline.settings import Settings
from pipeline.vectors.base import VectorStore
from serve.deps import ApiDeps


class NotCalled:
    """A store no route is called on here: any use means the test made a search."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"this app has no vector store or encoder; {name} was used")


def light_deps(settings: Settings, url: str) -> ApiDeps:
    """ApiDeps on the Redis at ``url`` (an admin key from ``API_ADMIN_KEY`` if set) and
    a writable keyword index; closed by the app's lifespan or ``deps.aclose()``."""
    client: redis.Redis = redis.Redis.from_url(url)
    keys = settings.redis.keys
    keywords = open_keyword_index(settings, writable=True)
    admin = settings.api.admin_key
    return ApiDeps(
        settings=settings,
        redis=client,
        aredis=aredis.Redis.from_url(url),
        ledger=RedisLedger(client, settings.jobs, keys=keys),
        products=RedisProductStore(client, keys),
        keys=ApiKeyStore(client, keys, admin.get_secret_value() if admin else None),
        limiter=RedisRateLimiter(client, keys),
        vectors=cast(VectorStore, NotCalled()),
        keywords=keywords,
        encoder=cast(QueryEncoder, NotCalled()),
        closers=[keywords.close, client.close],
    )
