"""Error text people can read: the root cause on one line, tracebacks kept apart.

Ray hands a remote failure back as ``RayTaskError(<Cause>)``, whose text is the remote
traceback in ANSI colour (``ray::ScraperWorker.scrape() ... pid=6362 ...``) with the real
reason last, where one-line views cut it off. :func:`one_line` unwraps that to the
original exception and says its type and message; :func:`traceback_text` keeps the whole
story, without colour codes, for ``dlq show`` and the dashboard's job detail.
"""

from __future__ import annotations

import errno
import re
import traceback
from typing import Any

import redis

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
MAX_LINE = 500
REDIS_HINT = "start it or set REDIS_URL"


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _is_ray_wrapper(error: BaseException) -> bool:
    # Matched by name so that this module (used by the ledger and the CLI) needs no Ray.
    return any(c.__name__ == "RayTaskError" for c in type(error).__mro__)


def root_cause(error: BaseException) -> BaseException:
    """The exception our code raised: Ray's task-error wrappers removed (nested ones too)."""
    seen = 0
    while _is_ray_wrapper(error) and seen < 10:
        cause = getattr(error, "cause", None)
        if not isinstance(cause, BaseException):
            break
        error = cause
        seen += 1
    return error


def type_name(error: BaseException) -> str:
    """The class name, without Ray's ``RayTaskError(...)`` decoration."""
    name = type(error).__name__
    match = re.fullmatch(r"RayTaskError\((\w+)\)", name)
    return match.group(1) if match else name


def message(error: BaseException) -> str:
    """The error's own message on one line (ANSI stripped, whitespace collapsed)."""
    text = " ".join(strip_ansi(str(root_cause(error))).split())
    return text[:MAX_LINE]


def one_line(error: BaseException) -> str:
    """``Type: message``, the root cause first; the type alone when there is no message."""
    cause = root_cause(error)
    text = message(cause)
    return f"{type_name(cause)}: {text}" if text else type_name(cause)


def traceback_text(error: BaseException, limit: int = 8000) -> str:
    """The full traceback (Ray's remote one included), colour codes removed, last
    ``limit`` characters kept (the end is where the cause is)."""
    return strip_ansi("".join(traceback.format_exception(error)))[-limit:]


def connection_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or (
            isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def redis_failure(where: str, exc: BaseException) -> str:
    """The line for a Redis that cannot be used (``where`` is ``host:port``)."""
    if (
        isinstance(exc, redis.AuthenticationError)
        or "NOAUTH" in str(exc)
        or "WRONGPASS" in str(exc)
    ):
        return f"Redis at {where} refused our credentials: check REDIS_PASSWORD or REDIS_URL"
    if connection_refused(exc):
        return f"Redis at {where} refused the connection: {REDIS_HINT}"
    if isinstance(exc, redis.TimeoutError):
        return f"Redis at {where} did not answer in time: check that it runs, or set REDIS_URL"
    detail = " ".join(strip_ansi(str(exc)).split())[:200]
    return f"Redis at {where} cannot be used ({detail}): {REDIS_HINT}"


def redis_where(client: Any) -> str:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
