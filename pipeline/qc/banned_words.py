"""Banned terms per policy category in English, Spanish, Portuguese and Hindi (Devanagari and
romanized), matched on whole words after case and accent folding.

A term ending in ``*`` matches as a prefix (``pistol*``: pistola, pistolas). Harmless
phrases that contain a banned word (glue gun, pistola de água, cachorro-quente) are listed
as exceptions and taken out of the text first. ``FLAG`` terms are ambiguous: they hold a
product for review instead of rejecting it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# fmt: off
REJECT: dict[str, tuple[str, ...]] = {
    "weapons": (
        # en
        "gun", "guns", "handgun*", "pistol", "pistols", "rifle", "rifles", "revolver*",
        "firearm*", "shotgun*", "ammunition", "ammo", "bullets", "rounds of ammunition",
        "grenade*", "stun gun", "taser*", "brass knuckles", "knuckle duster*", "silencer*",
        "country-made",
        # es
        "arma de fuego", "armas de fuego", "pistola", "pistolas", "escopeta*", "municion*",
        "balas", "granada*",
        # pt
        "arma de fogo", "armas de fogo", "espingarda*", "municao", "municoes",
        # hi
        "बंदूक", "पिस्तौल", "कट्टा", "तमंचा", "हथियार", "कारतूस", "bandook", "bandooq", "pistaul",
        "katta", "tamancha", "hathiyar", "kartoos",
    ),
    "drugs": (
        "cocaine", "heroin", "meth", "methamphetamine", "mdma", "ecstasy pills", "lsd", "weed",
        "marijuana", "cannabis", "thc", "hashish", "opium", "magic mushroom*", "psilocybin",
        "fentanyl", "ketamine", "cocaina", "marihuana", "heroina", "metanfetamina",
        "hongos alucinogenos", "maconha", "cogumelos magicos", "lanca perfume", "lanca-perfume",
        "गांजा", "चरस", "अफीम", "हेरोइन", "कोकीन", "स्मैक", "ganja", "charas", "afeem", "afim",
    ),
    "counterfeits": (
        "replica", "replicas", "first copy", "1st copy", "master copy", "mirror copy",
        "aaa quality", "7a quality", "counterfeit*", "knockoff*", "knock off", "copia exacta",
        "imitacion", "falsificad*", "primeira linha", "imitacao", "नकली", "डुप्लीकेट", "nakli",
        "duplicate copy",
    ),
    "adult": (
        "porn*", "xxx", "sex toy", "sex toys", "dildo*", "escort*", "adult video*", "nudity",
        "erotic*", "juguete sexual", "juguetes sexuales", "desnud*", "brinquedo sexual",
        "brinquedos sexuais", "acompanhante*", "अश्लील", "सेक्स टॉय", "ashleel",
    ),
    "animals": (
        "live animal*", "puppy", "puppies", "kitten*", "exotic pet*", "ivory", "rhino horn",
        "tiger skin", "pangolin*", "shark fin*", "animal vivo", "animales vivos", "cachorro*",
        "gatito*", "marfil", "loro*", "animais vivos", "filhote*", "papagaio*", "marfim",
        "पिल्ला", "तोता", "हाथी दांत",
    ),
    "medicine": (
        "prescription drug*", "prescription medicine*", "antibiotic*", "without prescription",
        "no prescription", "viagra", "cialis", "tramadol", "oxycodone", "xanax", "valium",
        "codeine", "adderall", "anabolic steroid*", "steroid*", "ozempic", "antibiotico*",
        "sin receta", "esteroide*", "sem receita", "tarja preta", "anabolizante*", "एंटीबायोटिक",
        "बिना पर्चे", "bina parche",
    ),
}
# fmt: on

FLAG: dict[str, tuple[str, ...]] = {
    "weapons": ("airsoft", "air gun", "bb gun", "pepper spray", "crossbow*", "ballesta*",
                "machete*", "spray de pimienta", "spray de pimenta", "katana*"),
    "drugs": ("cbd", "kratom", "bhang", "भांग", "poppers", "edibles"),
    "counterfeits": ("fake", "dupe", "dupes", "inspired by", "high copy"),
    "medicine": ("pills", "pastillas", "comprimidos", "capsulas", "गोलियां"),
}  # fmt: skip

EXCEPTIONS: tuple[str, ...] = (
    "glue gun", "hot glue gun", "massage gun", "water gun", "water pistol", "nerf gun",
    "toy gun", "spray gun", "paint gun", "heat gun", "nail gun", "staple gun",
    "pistola de agua", "pistola de cola", "pistola de calor", "pistola de pintura",
    "pistola de silicone", "pistola de massagem", "pistola de brinquedo", "pistola de juguete",
    "weed killer", "weed trimmer", "weed remover", "fake fur", "fake leather", "fake flowers",
    "fake plant*", "fake eyelash*", "fake lashes", "fake nail*",
    "puppy pad*", "puppy food", "puppy toy*", "kitten food", "kitten heel*",
    "cachorro quente", "cachorro-quente",
)  # fmt: skip

_SPLIT = re.compile(r"[^\w\u0900-\u097f]+")  # keep Devanagari marks inside words


def normalize(text: str) -> list[str]:
    """Lowercased tokens with Latin accents removed (água -> agua); Devanagari kept whole."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not 0x300 <= ord(c) <= 0x36F)
    return [t for t in _SPLIT.split(unicodedata.normalize("NFC", folded)) if t]


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]  # the last may be a prefix
    prefix: bool
    category: str
    text: str

    def matches_at(self, tokens: list[str], i: int) -> bool:
        n = len(self.words)
        if i + n > len(tokens):
            return False
        for k, word in enumerate(self.words):
            token = tokens[i + k]
            last = k == n - 1
            if not (token.startswith(word) if last and self.prefix else token == word):
                return False
        return True


class _TermSet:
    """Terms indexed by their first word; single-word prefix terms are checked by prefix."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.by_first: dict[str, list[_Term]] = {}
        self.prefixes: list[_Term] = []
        for category, entries in table.items():
            for entry in entries:
                prefix = entry.endswith("*")
                term = _Term(tuple(normalize(entry.rstrip("*"))), prefix, category, entry)
                if prefix and len(term.words) == 1:
                    self.prefixes.append(term)
                else:
                    self.by_first.setdefault(term.words[0], []).append(term)
        self._any_prefix = tuple(t.words[0] for t in self.prefixes)

    def at(self, tokens: list[str], i: int) -> list[_Term]:
        """The terms that match starting at token ``i``."""
        token = tokens[i]
        found = [t for t in self.by_first.get(token, ()) if t.matches_at(tokens, i)]
        if token.startswith(self._any_prefix):  # one C-level test for the common miss
            found += [t for t in self.prefixes if token.startswith(t.words[0])]
        return found


_REJECT = _TermSet(REJECT)
_FLAG = _TermSet(FLAG)
_EXCEPT = _TermSet({"": EXCEPTIONS})


@dataclass(frozen=True)
class TermHit:
    term: str
    category: str
    reject: bool


def find_banned(text: str) -> list[TermHit]:
    """Each banned term found in ``text`` (once per term), rejecting terms first."""
    tokens = normalize(text)
    for i in range(len(tokens)):
        if tokens[i]:
            for exception in _EXCEPT.at(tokens, i):
                for k in range(len(exception.words)):
                    tokens[i + k] = ""  # blank, not removed: phrases must not join across
    hits: dict[str, TermHit] = {}
    for terms, reject in ((_REJECT, True), (_FLAG, False)):
        for i, token in enumerate(tokens):
            if token:
                for term in terms.at(tokens, i):
                    hits.setdefault(term.text, TermHit(term.text, term.category, reject))
    return list(hits.values())
