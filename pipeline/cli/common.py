"""Helpers shared by the CLI's command modules."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Protocol

import click
from rich.console import Console

from pipeline.errors import ConfigError
from pipeline.redact import RedactingFormatter
from pipeline.settings import Settings, load_settings


class ApiRunner(Protocol):
    """Serves the HTTP API: handed in by the ``catalog-sync`` entry point (``serve.cli``),
    so that ``pipeline`` never imports ``serve``."""

    def start_api(self, settings: Settings, host: str, port: int) -> str: ...

    def stop_api(self) -> None: ...

    def wait_for_interrupt(self) -> None: ...


def api_runner(ctx: click.Context) -> ApiRunner:
    runner: ApiRunner | None = ctx.find_root().ensure_object(dict).get("api_runner")
    if runner is None:
        raise click.UsageError(
            "this entry point cannot serve the HTTP API: run the catalog-sync command "
            "(or python -m serve.cli)"
        )
    return runner


def choose_model(settings: Settings, console: Console) -> Settings:
    """The configured SigLIP if its weights are at hand, else the tiny model, said plainly."""
    from pipeline.embedding.weights import weights_available

    if weights_available(settings.siglip):
        return settings
    if os.environ.get("SIGLIP_MODEL") or os.environ.get("SIGLIP_CHECKPOINT"):
        raise click.ClickException(
            f"SigLIP weights for {settings.siglip.model} are not available offline: set "
            "SIGLIP_CHECKPOINT to a local open_clip checkpoint, or unset SIGLIP_MODEL"
        )
    console.print(
        f"[yellow]No {settings.siglip.model} weights are cached on this machine, so this "
        "uses the tiny untrained SigLIP: keyword (BM25) search is real, vector and photo "
        "similarity are meaningless. Set SIGLIP_CHECKPOINT for real vectors.[/yellow]"
    )
    return settings.with_overrides(siglip={"model": "tiny"})


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
    inner = (
        _JsonFormatter()
        if settings.core.log_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # Client libraries log and raise with their URLs, credentials included.
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.core.log_level)
