"""Helpers shared by the CLI's command modules."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from pipeline.errors import ConfigError
from pipeline.settings import Settings, load_settings


def settings_from(ctx: click.Context) -> Settings:
    """Build settings once per invocation; a bad variable is a usage error, not a traceback."""
    obj = ctx.find_root().ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings()
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
    settings: Settings = obj["settings"]
    return settings


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(settings: Settings) -> None:
    """Handlers are configured here, at the entry point, never in library modules."""
    handler = logging.StreamHandler()
    if settings.core.log_json:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.core.log_level)
