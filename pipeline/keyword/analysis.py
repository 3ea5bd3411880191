"""Language-aware text analysis shared by the keyword indices, highlighting and suggestions.

Every word goes through the same steps on both sides (documents and queries), so they meet:
lower case, accents folded (shoppers type ``pao`` for "pão"), then, in the stemmed fields,
a light plural rule and the Snowball stemmer of the product's language. Folding comes
before stemming on purpose: an accent-less query must stem to the same form as the
accented catalog word, and the Snowball stemmers accept unaccented input.

A product's language is detected once at indexing (py3langid restricted to the languages
we serve) unless the seller's profile sets it; a product in none of them gets folding
only. A query's language is never guessed (two words say too little): its words are
stemmed in every supported language and any of those stems may match.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from typing import Any

import Stemmer

# ISO 639-1 code -> Snowball algorithm. Hindi has a (light) Snowball stemmer too.
STEMMERS = {
    "pt": "portuguese",
    "es": "spanish",
    "fr": "french",
    "id": "indonesian",
    "en": "english",
    "hi": "hindi",
}
LANGUAGES = tuple(STEMMERS)
MIN_CONFIDENCE = 0.6  # below this the detector is guessing: fold only
MAX_WORD = 40  # longer "words" are base64, URLs, noise
ESCALATE_FROM = 6  # letters from which a word the catalog does not know may be two edits off
# A word: a letter or digit, then letters, digits and combining marks (Devanagari vowel
# signs are marks: without them a Hindi word would fall apart).
_WORD_RE = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f\u0900-\u0983\u0a00-\u0dff])*")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# Plurals the Snowball stemmers miss once accents are folded (pães -> paes, not pão).
_PLURALS: dict[str, tuple[tuple[str, str], ...]] = {
    "pt": (("aes", "ao"), ("oes", "ao"), ("aos", "ao"), ("ais", "al"), ("eis", "el")),
    "fr": (("eaux", "eau"), ("aux", "al"), ("oux", "ou")),
}
# Short stop-word lists: words that say nothing about a product in its own language.
STOP_WORDS: dict[str, frozenset[str]] = {
    "pt": frozenset("a o as os de da do das dos e em no na nos nas um uma com para por".split()),
    "es": frozenset("el la los las de del y en un una con para por al".split()),
    "fr": frozenset("le la les de des du et en un une avec pour au aux l d".split()),
    "id": frozenset("dan di ke dari yang untuk dengan ini itu atau".split()),
    "en": frozenset("a an the and of in on for with to or".split()),
    "hi": frozenset("का की के और में से है को पर".split()),
}
_local = threading.local()  # PyStemmer objects are not thread-safe: one set per thread


def fold(text: str) -> str:
    """Lower case with Latin accents removed; other scripts' marks are kept."""
    if text.isascii():  # most words: nothing to decompose (highlighting folds every word)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(ch for ch in decomposed if not 0x300 <= ord(ch) <= 0x36F)
    return unicodedata.normalize("NFC", stripped).replace("ß", "ss")


def words(text: str) -> list[str]:
    """The folded words of ``text`` in order (too-long tokens dropped)."""
    return [w for w in _WORD_RE.findall(fold(text)) if len(w) <= MAX_WORD]


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of ``text``, offsets into ``text`` itself.

    Folding can change a string's length (NFKD), so words are found on the original text
    and folded one by one.
    """
    spans = []
    for match in _WORD_RE.finditer(text):
        folded = fold(match.group())
        if len(folded) <= MAX_WORD:
            spans.append((match.start(), match.end(), folded))
    return spans


def _stemmer(language: str) -> Any:
    cache: dict[str, Any] | None = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    if language not in cache:
        cache[language] = Stemmer.Stemmer(STEMMERS[language])
    return cache[language]


def stem(word: str, language: str) -> str:
    """The stem of a folded word in ``language`` (a key of STEMMERS)."""
    for suffix, replacement in _PLURALS.get(language, ()):
        if word.endswith(suffix) and len(word) > len(suffix):
            word = word[: -len(suffix)] + replacement
            break
    return str(_stemmer(language).stemWord(word))


def stemmed_text(text: str, language: str | None) -> str:
    """The stemmed field of a document: its words, stop words dropped, stemmed in its
    language; folded words alone when the language is unknown (the neutral field)."""
    tokens = words(text)
    if language not in STEMMERS:
        return " ".join(tokens)
    stops = STOP_WORDS[language]
    return " ".join(stem(w, language) for w in tokens if w not in stops)


@functools.lru_cache(maxsize=65_536)
def query_stems(word: str) -> frozenset[str]:
    """Every supported language's stem of one folded query word, and the word itself
    (cached: highlighting asks for each word of every hit)."""
    return frozenset({word, *(stem(word, language) for language in LANGUAGES)})


def fuzzy_distance(word: str, *, unknown: bool = False) -> int:
    """Edits a query word may be off by: none under 5 letters, one up to 8, then two
    (the rule of Elasticsearch's ``fuzziness: AUTO:5,9``). Digits never fuzz (sizes,
    SKUs, years: 38 is not 39).

    ``unknown``: the catalog has no word within that allowance (nor the word's stem), so
    the word is most likely misspelt, often by two edits that shortened it (a dropped
    letter in "carteira" leaves 7): two edits from 6 letters, Elasticsearch's default
    ``AUTO``. The index still ranks these matches below closer ones."""
    if any(ch.isdigit() for ch in word):
        return 0
    if len(word) >= 9 or (unknown and len(word) >= ESCALATE_FROM):
        return 2
    return 1 if len(word) >= 5 else 0


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import _load_identifier  # loads a 2 MB model: only when needed

    return _load_identifier(norm_probs=True, langs=list(LANGUAGES))


_detect_lock = threading.Lock()


def detect_language(text: str) -> str | None:
    """The product's language among LANGUAGES, or None when the text is too unsure."""
    if _DEVANAGARI.search(text):
        return "hi"
    if sum(ch.isalpha() for ch in text) < 3:
        return None
    with _detect_lock:  # the identifier keeps per-call scratch state
        language, confidence = _identifier().classify(text[:2000])
    return str(language) if confidence >= MIN_CONFIDENCE else None


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a transposition is one edit), stopping early
    once every path exceeds ``limit`` (returns limit + 1 then)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
