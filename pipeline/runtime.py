"""The running system's connections, built once from settings at an entry point.

Picks production or embedded backends: with no ``REDIS_URL``/``REDIS_HOST`` the shared
local ``redis-server`` for ``DATA_DIR`` is found or started. :meth:`Runtime.close` lets it
go: it stops when no other process uses it (``pipeline/local/services.py``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import redis

from pipeline.errors import BackendUnavailable
from pipeline.errortext import redis_failure, redis_where
from pipeline.local.redis import local_redis
from pipeline.settings import Settings

logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = contextlib.ExitStack()
        self._redis_url: str | None = None
        self._redis: redis.Redis | None = None

    def redis_url(self) -> str:
        """The Redis URL to use, starting the embedded server if none is configured."""
        if self._redis_url is None:
            cfg = self.settings.redis
            if cfg.url is not None:
                self._redis_url = cfg.url.get_secret_value()
            elif cfg.host is not None:
                auth = f":{cfg.password.get_secret_value()}@" if cfg.password else ""
                self._redis_url = f"redis://{auth}{cfg.host}:{cfg.port}/{cfg.db}"
            else:
                service = local_redis(
                    self.settings.data_dir.resolve(), idle_stop_s=self.settings.core.idle_stop_s
                )
                port = service.ensure()
                self._stack.callback(service.close)
                self._redis_url = f"redis://127.0.0.1:{port}/{cfg.db}"
        return self._redis_url

    def redis(self) -> redis.Redis:
        """A shared client (connection pool); raises BackendUnavailable if Redis does not answer."""
        if self._redis is None:
            client: redis.Redis = redis.Redis.from_url(
                self.redis_url(), socket_connect_timeout=5, health_check_interval=30
            )
            try:
                client.ping()
            except redis.RedisError as exc:
                raise BackendUnavailable(redis_failure(redis_where(client), exc)) from exc
            self._redis = client
            self._stack.callback(client.close)
        return self._redis

    def close(self) -> None:
        self._stack.close()
        self._redis = None
        self._redis_url = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
