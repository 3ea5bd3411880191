"""``catalog-sync``: one CLI for every command. Settings are built here and passed down."""

from __future__ import annotations

import json
import sys

import click

from pipeline.cli import ledger_cmds, pipeline_cmds, seller_cmds, source_cmds
from pipeline.cli.common import configure_logging, settings_from
from pipeline.cli.demo import demo
from pipeline.runtime import Runtime


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="catalog-sync")
@click.pass_context
def main(ctx: click.Context) -> None:
    """catalog-sync: WhatsApp Business catalogs to a searchable marketplace.

    Configuration comes from the environment (REDIS_URL, MILVUS_URI, DATA_DIR, ...):
    see the README. With nothing set, embedded local services are used.
    """
    ctx.ensure_object(dict)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Show the effective settings (secrets hidden) and check that Redis answers."""
    settings = settings_from(ctx)
    configure_logging(settings)
    with Runtime(settings) as runtime:
        redis_url = runtime.redis_url()
        pong = runtime.redis().ping()
        report = {
            "data_dir": str(settings.data_dir.resolve()),
            "redis": "embedded" if settings.redis.embedded else "configured",
            "redis_ping": bool(pong),
            "redis_url": redis_url.split("@")[-1],
            "vectors": str(settings.milvus.uri) if settings.milvus.uri else "milvus-lite",
            "keyword_index": (
                str(settings.elasticsearch.url) if settings.elasticsearch.url else "embedded"
            ),
            "qc": "gemini" if settings.gemini.api_key else "local",
            "siglip": settings.siglip.model,
        }
    if as_json:
        click.echo(json.dumps(report))
    else:
        for key, value in report.items():
            click.echo(f"{key:>14}: {value}")


main.add_command(demo)
ledger_cmds.register(main)
pipeline_cmds.register(main)
source_cmds.register(main)
seller_cmds.register(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
