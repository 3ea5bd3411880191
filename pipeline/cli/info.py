"""``catalog-sync info``: the effective settings, secrets hidden, and whether each backend
answers. An unreachable backend is a line of the report (and exit code 1), not a crash."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import click
import redis

from pipeline.backends import keyword_backend, qc_backend, vector_backend
from pipeline.cli.common import configure_logging, settings_from
from pipeline.errors import BackendUnavailable
from pipeline.redact import redact
from pipeline.runtime import Runtime
from pipeline.settings import KeywordBackend, Settings, VectorBackend

CONNECT_TIMEOUT_S = 3.0


def _tcp_check(url: str) -> str | None:
    """None when the URL's host:port accepts a TCP connection, else the reason."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{port}: {exc.strerror or exc}"


def backend_report(settings: Settings) -> dict[str, Any]:
    """Each backend: where it is (credentials masked) and whether it answers."""
    report: dict[str, Any] = {
        "data_dir": str(settings.data_dir.resolve()),
        "redis": "embedded" if settings.redis.embedded else "configured",
    }
    with Runtime(settings) as runtime:
        try:
            report["redis_url"] = redact(runtime.redis_url())
            report["redis_ping"] = bool(runtime.redis().ping())
            report["redis_error"] = None
        except (BackendUnavailable, redis.RedisError, OSError) as exc:
            report.setdefault("redis_url", "?")
            report["redis_ping"] = False
            report["redis_error"] = redact(str(exc))[:300]
    vectors_lite = vector_backend(settings) is VectorBackend.MILVUS_LITE
    keywords_embedded = keyword_backend(settings) is KeywordBackend.TANTIVY
    for name, url, embedded in (
        ("vectors", None if vectors_lite else settings.milvus.uri, "milvus-lite"),
        ("keyword_index", None if keywords_embedded else settings.elasticsearch.url, "embedded"),
    ):
        if url is None:
            report[name] = embedded
            report[f"{name}_reachable"] = True
            report[f"{name}_error"] = None
        else:
            problem = _tcp_check(str(url))
            report[name] = redact(str(url))
            report[f"{name}_reachable"] = problem is None
            report[f"{name}_error"] = redact(problem) if problem else None
    report["qc"] = qc_backend(settings).value
    report["siglip"] = settings.siglip.model
    return report


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Show the effective settings (secrets hidden) and whether each backend answers
    (exit code 1 when one does not)."""
    settings = settings_from(ctx)
    configure_logging(settings)
    report = backend_report(settings)
    if as_json:
        click.echo(json.dumps(report))
    else:
        for key, value in report.items():
            if value is not None:
                click.echo(f"{key:>22}: {value}")
    reachable = (
        report["redis_ping"],
        report["vectors_reachable"],
        report["keyword_index_reachable"],
    )
    if not all(reachable):
        ctx.exit(1)
