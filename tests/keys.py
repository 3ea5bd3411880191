"""The Redis key names tests use: the default namespace, as a deployment without
``REDIS_NAMESPACE`` has."""

from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys

KEYS = RedisKeys(DEFAULT_NAMESPACE)
