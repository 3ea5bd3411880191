"""How the CLI fails: one line that says what to do, exit code 2; ``--debug`` for the rest.

Every command runs inside :class:`FriendlyGroup`, which turns the errors a user can act
on (our own error classes, an unreachable or refusing Redis, a connection refused by any
backend) into ``Error: <what happened>: <what to do>`` on stderr. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import click
import redis

from pipeline.errors import BackendUnavailable, CatalogSyncError, ConfigError
from pipeline.errortext import connection_refused, message, one_line, redis_failure, root_cause
from pipeline.redact import redact

EXIT_FAILURE = 2


def explain(exc: BaseException) -> str | None:
    """The one line for an error a user can act on; None for a bug (keep the traceback)."""
    if isinstance(exc, redis.RedisError):
        return redis_failure("the configured address", exc)
    cause = root_cause(exc)
    if isinstance(cause, ConfigError):
        return message(cause)
    if isinstance(cause, BackendUnavailable):
        return message(cause) or one_line(cause)
    if isinstance(cause, CatalogSyncError):
        return one_line(cause)
    if connection_refused(exc):
        return f"a service refused the connection ({one_line(exc)}): check that it runs"
    return None


class FriendlyGroup(click.Group):
    """A click group whose commands fail with one line and exit code 2 for errors a user
    can act on. ``--debug`` (on the group) shows the traceback instead."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            line = explain(exc)
            if line is None:
                raise
            logging.getLogger(__name__).debug("command failed", exc_info=exc)
            click.echo(f"Error: {redact(line)} (--debug shows the traceback)", err=True)
            ctx.exit(EXIT_FAILURE)
