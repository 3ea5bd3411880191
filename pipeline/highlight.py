"""Marks the words of a product's name and description that the query matched, the way
the keyword index matched them: the same word (accents folded), the same stem in any
supported language, or a word within the query word's typo allowance. Also says "did you
mean" when only typo matches carried the results.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from pipeline.keyword import analysis

SNIPPET_CHARS = 160  # description context shown around the first match


@dataclass
class QueryMatcher:
    """One query's words, compiled once per search and reused for every hit."""

    query: str
    words: list[str] = field(init=False)
    stems: set[str] = field(init=False)
    limits: dict[str, int] = field(init=False)  # query word -> typo edits allowed
    exact_seen: set[str] = field(init=False, default_factory=set)
    fuzzy_seen: dict[str, Counter[str]] = field(init=False, default_factory=dict)
    _memo: dict[str, tuple[str, str] | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.words = list(dict.fromkeys(analysis.words(self.query)))[:32]
        self.stems = {s for w in self.words for s in analysis.query_stems(w)}
        self.limits = {w: analysis.fuzzy_distance(w) for w in self.words}

    def allow_unknown(self, texts: list[str]) -> None:
        """Gives a query word the two edits of ``fuzzy_distance(unknown=True)`` when no
        word of ``texts`` (the hits) matches it as typed, stemmed or within its length's
        allowance: the index allowed it those edits for the same reason."""
        seen = {word for text in texts for word in analysis.words(text)}
        for query_word in self.words:
            wider = analysis.fuzzy_distance(query_word, unknown=True)
            if wider == self.limits[query_word]:
                continue
            if not any(self._near(query_word, word) for word in seen):
                self.limits[query_word] = wider
        self._memo.clear()

    def _near(self, query_word: str, word: str) -> bool:
        limit = self.limits[query_word]
        return (
            word == query_word
            or OSA.distance(query_word, word, score_cutoff=limit) <= limit
            or bool(analysis.query_stems(query_word) & analysis.query_stems(word))
        )

    def match(self, word: str) -> tuple[str, str] | None:
        """(query word, "exact" | "stem" | "fuzzy") for a folded document word, or None."""
        if word not in self._memo:
            self._memo[word] = self._match(word)
        return self._memo[word]

    def _match(self, word: str) -> tuple[str, str] | None:
        if word in self.words:
            return word, "exact"
        if self.stems & analysis.query_stems(word):
            for query_word in self.words:
                if analysis.query_stems(query_word) & analysis.query_stems(word):
                    return query_word, "stem"
        for query_word in self.words:
            limit = self.limits[query_word]
            if limit and OSA.distance(query_word, word, score_cutoff=limit) <= limit:
                return query_word, "fuzzy"
        return None

    def mark(self, text: str) -> str:
        """``text`` HTML-escaped, each matched word wrapped in ``<mark>``."""
        out: list[str] = []
        last = 0
        for start, end, word in analysis.word_spans(text):
            found = self.match(word)
            if found is None:
                continue
            query_word, how = found
            if how == "fuzzy":
                self.fuzzy_seen.setdefault(query_word, Counter())[word] += 1
            else:
                self.exact_seen.add(query_word)
            out.append(html.escape(text[last:start]))
            out.append(f"<mark>{html.escape(text[start:end])}</mark>")
            last = end
        out.append(html.escape(text[last:]))
        return "".join(out)

    def snippet(self, text: str) -> str:
        """The marked part of a description around its first match (or its start)."""
        spans = analysis.word_spans(text)
        first = next((start for start, _, word in spans if self.match(word)), 0)
        start = max(0, first - SNIPPET_CHARS // 4)
        if start:
            start = text.find(" ", start) + 1 or start
        piece = text[start : start + SNIPPET_CHARS]
        marked = self.mark(piece)
        return ("…" if start else "") + marked + ("…" if start + SNIPPET_CHARS < len(text) else "")

    def did_you_mean(self) -> str | None:
        """The query with each word that matched only by typo replaced by the catalog word
        it matched most often; None when every word matched as typed (or stemmed)."""
        fixes = {
            word: counts.most_common(1)[0][0]
            for word, counts in self.fuzzy_seen.items()
            if word not in self.exact_seen
        }
        if not fixes:
            return None
        return " ".join(fixes.get(word, word) for word in self.words)
