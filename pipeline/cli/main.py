"""``catalog-sync``: one CLI for every command. Settings are built here and passed down."""

from __future__ import annotations

import sys

import click

from pipeline.cli import (
    ledger_cmds,
    pipeline_cmds,
    search_cmds,
    seller_cmds,
    services_cmds,
    source_cmds,
)
from pipeline.cli.demo import demo
from pipeline.cli.failures import FriendlyGroup
from pipeline.cli.info import info


@click.group(
    cls=FriendlyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="catalog-sync")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """catalog-sync: WhatsApp Business catalogs to a searchable marketplace.

    Configuration comes from the environment (REDIS_URL, MILVUS_URI, DATA_DIR, ...):
    see the README. With nothing set, embedded local services are used. An error a user
    can act on is one line and exit code 2; --debug shows its traceback.
    """
    ctx.ensure_object(dict)["debug"] = debug


main.add_command(demo)
main.add_command(info)
ledger_cmds.register(main)
pipeline_cmds.register(main)
search_cmds.register(main)
source_cmds.register(main)
seller_cmds.register(main)
services_cmds.register(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
