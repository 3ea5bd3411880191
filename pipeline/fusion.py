"""How the two halves of a hybrid text search are combined, and when one is skipped.

Weighted reciprocal-rank fusion (Cormack et al. 2009, with a weight per ranking): a
published result on Amazon's shopping queries found plain RRF of BM25 and dense retrieval
below BM25 alone, so the weights and the vector half's depth are settings to measure with
``benchmarks/relevance.py``, not constants.
"""

from __future__ import annotations

import re

from pipeline.settings import SearchSettings

# One token with a digit and no spaces, like "LW-38" or "SKU_1234": a code, not a meaning.
_SKU_LIKE = re.compile(r"^(?=[^\s]*\d)[\w][\w./#-]{2,63}$")


def weighted_rrf(
    rankings: dict[str, list[str]], weights: dict[str, float], k: int
) -> list[tuple[str, float, list[str]]]:
    """score(d) = sum over rankings r of weight(r) / (k + rank_r(d)); ties by id.

    Returns (id, score, names of the rankings that had it), best first. A ranking with
    weight 0 still says where a product came from but adds nothing to its score.
    """
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for name, ids in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, pid in enumerate(ids, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
            sources.setdefault(pid, []).append(name)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(pid, score, sources[pid]) for pid, score in ordered]


def is_quoted(query: str) -> bool:
    stripped = query.strip()
    return len(stripped) > 2 and stripped[0] == stripped[-1] == '"'


def skips_vectors(query: str) -> bool:
    """True when the vector half cannot help: a quoted phrase (the shopper wants these very
    words) or a lone SKU-like code (an image embedding of "LW-38" means nothing)."""
    return is_quoted(query) or bool(_SKU_LIKE.match(query.strip()))


def fusion_weights(settings: SearchSettings) -> dict[str, float]:
    return {"bm25": settings.bm25_weight, "vector": settings.vector_weight}
