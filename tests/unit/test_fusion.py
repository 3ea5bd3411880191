"""Weighted reciprocal-rank fusion and the rule for skipping the vector half."""

from __future__ import annotations

import pytest

from pipeline.fusion import skips_vectors, weighted_rrf


def test_equal_weights_are_plain_rrf() -> None:
    fused = weighted_rrf({"bm25": ["a", "b"], "vector": ["b", "c"]}, {}, k=60)
    assert [pid for pid, _, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0][2] == ["bm25", "vector"]


def test_weights_move_the_balance() -> None:
    rankings = {"bm25": ["a", "b"], "vector": ["b", "a"]}
    assert weighted_rrf(rankings, {"bm25": 2.0, "vector": 1.0}, k=60)[0][0] == "a"
    assert weighted_rrf(rankings, {"bm25": 1.0, "vector": 2.0}, k=60)[0][0] == "b"
    only_bm25 = weighted_rrf(rankings, {"bm25": 1.0, "vector": 0.0}, k=60)
    assert [pid for pid, _, _ in only_bm25] == ["a", "b"]


@pytest.mark.parametrize(
    ("query", "skip"),
    [
        ('"leather wallet"', True),
        ("LW-38", True),
        ("sku_1234", True),
        ("leather wallet", False),
        ("wallet", False),
        ("38", False),  # too short to be a code: a size, let both halves try
        ('"', False),
    ],
)
def test_vector_half_is_skipped_for_quoted_phrases_and_codes(query: str, skip: bool) -> None:
    assert skips_vectors(query) is skip
