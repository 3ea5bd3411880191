"""``catalog-sync search``: the running API's answer when there is one, else a search in
this process over ``DATA_DIR``, with the demo's model fallback.

The local search is one-shot and meant to answer in well under two seconds: a search by
words with the tiny model reads Redis and the keyword index alone (BM25), so no model is
loaded, torch is not imported and no Milvus server is started (see
``pipeline/search_setup.py``); a photo, or real SigLIP weights, load what they need.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import choose_model, settings_from
from pipeline.errors import BackendUnavailable
from pipeline.search import SearchFilters, SearchHit, SearchResponse
from pipeline.settings import Settings

CONNECT_TIMEOUT_S = 0.5  # loopback answers in microseconds; a remote API in a few ms
READ_TIMEOUT_S = 60.0  # the API's first photo search may load its model
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # 100 hits with highlights are ~100 KB


class NoApi(Exception):
    """Nothing answers at the API's address (refused, or no connection in time)."""


def print_results(console: Console, resp: SearchResponse, title: str) -> None:
    table = Table(title=f"{title}  ({resp.took_ms:.1f} ms{', cached' if resp.cached else ''})")
    for column in ("#", "score", "name", "price", "seller", "product id"):
        table.add_column(column)
    for i, hit in enumerate(resp.results, start=1):
        price = f"{hit.price} {hit.currency or ''}".strip() if hit.price else "-"
        seller = hit.seller_name or hit.seller_id  # the shop's name where its profile has one
        table.add_row(str(i), f"{hit.score:.4f}", hit.name[:60], price, seller, hit.product_id)
    if not resp.results:
        table.caption = "no live product matches"
    console.print(table)


def default_api_url(settings: Settings) -> str:
    """The API this machine serves with its settings (``catalog-sync serve``/``demo``)."""
    host = settings.api.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api.port}"


def _hit(row: dict[str, Any]) -> SearchHit:
    known = SearchHit.__dataclass_fields__
    return SearchHit(**{k: v for k, v in row.items() if k in known})


def api_search(
    url: str, words: str, image: Path | None, seller_id: str | None, limit: int
) -> SearchResponse:
    """The API's answer. Raises NoApi when nothing answers at ``url``, and
    BackendUnavailable when something answers but not as the API does."""
    import httpx

    params: dict[str, str | int] = {"limit": limit}
    if seller_id:
        params["seller_id"] = seller_id
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        with httpx.Client(base_url=url, timeout=timeout, trust_env=False) as client:
            if image is not None:
                files = {"image": (image.name, image.read_bytes())}
                answer = client.stream("POST", "/v1/search/image", params=params, files=files)
            else:
                answer = client.stream("GET", "/v1/search", params={"q": words, **params})
            with answer as resp:
                body = b""
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise BackendUnavailable(f"the API at {url} sent more than 16 MB")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise NoApi(f"no API at {url}") from exc
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"the API at {url} failed: {exc}") from exc
    try:
        data = json.loads(body)
        if resp.status_code != 200:
            detail = data.get("detail") if isinstance(data, dict) else None
            raise BackendUnavailable(
                f"the API at {url} answered {resp.status_code}: {detail or body[:200]!r}"
            )
        return SearchResponse(
            results=[_hit(row) for row in data["results"]],
            cached=bool(data["cached"]),
            took_ms=float(data["took_ms"]),
            generation=0,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackendUnavailable(
            f"{url} answered {resp.status_code}, but not as the catalog-sync API does: {exc}"
        ) from exc


def local_search(
    settings: Settings, words: str, image: Path | None, seller_id: str | None, limit: int
) -> SearchResponse:
    """A one-shot search in this process over the data directory's stores."""
    from pipeline.search_setup import local_searcher

    async def main() -> SearchResponse:
        async with local_searcher(settings) as searcher:
            filters = SearchFilters(seller_id=seller_id)
            if image is not None:
                return await searcher.search_image(image.read_bytes(), filters, limit)
            return await searcher.search_text(words, filters, limit)

    return asyncio.run(main())


@click.command()
@click.argument("words", required=False, default="")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seller", "seller_id", default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--api", "api_url", default=None, metavar="URL",
              help="The API to ask (default: this machine's, at API_PORT). Without one "
                   "answering there, the search runs here over DATA_DIR.")  # fmt: skip
@click.option("--local", "local_only", is_flag=True, help="Search here; ask no API.")
@click.pass_context
def search(
    ctx: click.Context,
    words: str,
    image: Path | None,
    seller_id: str | None,
    limit: int,
    api_url: str | None,
    local_only: bool,
) -> None:
    """Search live products by words, or by a photo with --image; prints a table.

    Asks the running API (catalog-sync serve or demo); when none answers, searches here
    over DATA_DIR with the configured model, or the tiny one when its weights are not
    cached (said on stderr). An --api that does not answer is an error."""
    if not words and image is None:
        raise click.UsageError("give search words or --image PATH")
    if api_url is not None and local_only:
        raise click.UsageError("--api and --local exclude each other")
    settings = settings_from(ctx)
    title = f"search: {words or image}"
    if not local_only:
        url = (api_url or default_api_url(settings)).rstrip("/")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--api")
        try:
            resp = api_search(url, words, image, seller_id, limit)
        except BackendUnavailable as exc:
            if api_url is not None:
                raise
            raise BackendUnavailable(f"{exc}; --local searches here instead") from exc
        except NoApi as exc:
            if api_url is not None:
                raise BackendUnavailable(
                    f"{exc}: start it (catalog-sync serve) or drop --api"
                ) from exc
        else:
            print_results(Console(), resp, f"{title}  via {url}")
            return
    settings = choose_model(settings, Console(stderr=True))
    resp = local_search(settings, words, image, seller_id, limit)
    print_results(Console(), resp, title)


def register(group: click.Group) -> None:
    group.add_command(search)
