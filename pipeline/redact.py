"""Secrets out of anything we print or log: URL credentials and password-like parameters.

``REDIS_URL``, ``MILVUS_URI`` and ``ELASTICSEARCH_URL`` may carry a password in their
user-info (``redis://:pw@host``) or query (``?password=pw``), and client libraries put
those URLs into their error messages. Whatever leaves a process (``catalog-sync info``,
a log line, a one-line CLI error) goes through :func:`redact` first.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://user:password@  or  scheme://token@  (the user-info of any URL)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<info>[^@/\s?#]+)@")
_SECRET_PARAM = re.compile(
    r"(?i)(?P<name>[?&;](?:password|passwd|pwd|pass|secret|token|access_token|api_key|apikey"
    r"|auth|key)=)[^&#\s'\"]*"
)


def _mask_info(match: re.Match[str]) -> str:
    user, sep, _ = match.group("info").partition(":")
    shown = f"{user}:{MASK}" if sep else MASK  # a lone user-info may itself be a token
    return f"{match.group('scheme')}{shown}@"


def redact(text: str) -> str:
    """``text`` with URL passwords and password-like query parameters replaced by ***."""
    text = _USERINFO.sub(_mask_info, text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group('name')}{MASK}", text)


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner`` (message, arguments and traceback), then redacts the line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record))


class RedactingFilter(logging.Filter):
    """For handlers we did not build (Ray's, in actors and Serve replicas): rewrites the
    record itself, message and traceback text, before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_root_handlers() -> None:
    """Add :class:`RedactingFilter` to each handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
