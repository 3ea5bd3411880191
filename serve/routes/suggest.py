"""Search-as-you-type: ``GET /v1/suggest``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from pipeline.search import HybridSearcher
from pipeline.suggest import MAX_PREFIX, MAX_SUGGESTIONS
from serve.schemas import SuggestOut

router = APIRouter(prefix="/v1/suggest", tags=["search"])


@router.get("", response_model=SuggestOut)
async def suggest(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_PREFIX)],
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 8,
) -> SuggestOut:
    """Completions for what the shopper has typed: frequent past queries and live
    products' names, one typo allowed in the prefix from five letters."""
    searcher: HybridSearcher = request.app.state.deps.searcher
    return SuggestOut(suggestions=await searcher.suggester.suggest(q, limit))
