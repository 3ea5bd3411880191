"""A generated multilingual catalog and a judged query set for ``relevance.py``.

Products are built from a shared concept table (the same goods named in Portuguese,
Spanish, French, Indonesian, Hindi and English), so every query's relevant products are
known by construction: a product is relevant (grade 1) when it is the queried kind of
good in the queried material, and very relevant (grade 2) when the colour matches too.
Typos, plurals and missing accents are applied to the catalog's own words, deterministic
per seed.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

LANGUAGES = ("pt", "es", "fr", "id", "hi", "en")
# concept -> language -> (singular, plural)
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "wallet": {"pt": ("carteira", "carteiras"), "es": ("cartera", "carteras"),
               "fr": ("portefeuille", "portefeuilles"), "id": ("dompet", "dompetnya"),
               "hi": ("बटुआ", "बटुए"), "en": ("wallet", "wallets")},
    "bread": {"pt": ("pão", "pães"), "es": ("pan", "panes"), "fr": ("pain", "pains"),
              "id": ("roti", "rotinya"), "hi": ("रोटी", "रोटियाँ"), "en": ("bread", "breads")},
    "shirt": {"pt": ("camiseta", "camisetas"), "es": ("camisa", "camisas"),
              "fr": ("chemise", "chemises"), "id": ("kemeja", "kemejanya"),
              "hi": ("कमीज़", "कमीज़ें"), "en": ("shirt", "shirts")},
    "sandal": {"pt": ("sandália", "sandálias"), "es": ("sandalia", "sandalias"),
               "fr": ("sandale", "sandales"), "id": ("sandal", "sandalnya"),
               "hi": ("चप्पल", "चप्पलें"), "en": ("sandal", "sandals")},
    "horse": {"pt": ("cavalo", "cavalos"), "es": ("caballo", "caballos"),
              "fr": ("cheval", "chevaux"), "id": ("kuda", "kudanya"),
              "hi": ("घोड़ा", "घोड़े"), "en": ("horse", "horses")},
    "jewel": {"pt": ("bijuteria", "bijuterias"), "es": ("bisutería", "bisuterías"),
              "fr": ("bijou", "bijoux"), "id": ("perhiasan", "perhiasannya"),
              "hi": ("गहना", "गहने"), "en": ("jewel", "jewels")},
    "lamp": {"pt": ("luminária", "luminárias"), "es": ("lámpara", "lámparas"),
             "fr": ("lampe", "lampes"), "id": ("lampu", "lampunya"),
             "hi": ("दीपक", "दीपकों"), "en": ("lamp", "lamps")},
    "bag": {"pt": ("bolsa", "bolsas"), "es": ("bolso", "bolsos"), "fr": ("sac", "sacs"),
            "id": ("tas", "tasnya"), "hi": ("थैला", "थैले"), "en": ("handbag", "handbags")},
    "dress": {"pt": ("vestido", "vestidos"), "es": ("vestido", "vestidos"),
              "fr": ("robe", "robes"), "id": ("gaun", "gaunnya"), "hi": ("पोशाक", "पोशाकें"),
              "en": ("dress", "dresses")},
    "candle": {"pt": ("vela", "velas"), "es": ("vela", "velas"), "fr": ("bougie", "bougies"),
               "id": ("lilin", "lilinnya"), "hi": ("मोमबत्ती", "मोमबत्तियाँ"),
               "en": ("candle", "candles")},
    "necklace": {"pt": ("colar", "colares"), "es": ("collar", "collares"),
                 "fr": ("collier", "colliers"), "id": ("kalung", "kalungnya"),
                 "hi": ("हार", "हारों"), "en": ("necklace", "necklaces")},
    "blanket": {"pt": ("cobertor", "cobertores"), "es": ("manta", "mantas"),
                "fr": ("couverture", "couvertures"), "id": ("selimut", "selimutnya"),
                "hi": ("कंबल", "कंबलों"), "en": ("blanket", "blankets")},
}  # fmt: skip
MATERIALS: dict[str, dict[str, str]] = {
    "leather": {"pt": "couro", "es": "cuero", "fr": "cuir", "id": "kulit", "hi": "चमड़ा",
                "en": "leather"},
    "cotton": {"pt": "algodão", "es": "algodón", "fr": "coton", "id": "katun", "hi": "सूती",
               "en": "cotton"},
    "wood": {"pt": "madeira", "es": "madera", "fr": "bois", "id": "kayu", "hi": "लकड़ी",
             "en": "wooden"},
    "silver": {"pt": "prata", "es": "plata", "fr": "argent", "id": "perak", "hi": "चाँदी",
               "en": "silver"},
    "ceramic": {"pt": "cerâmica", "es": "cerámica", "fr": "céramique", "id": "keramik",
                "hi": "मिट्टी", "en": "ceramic"},
}  # fmt: skip
COLORS: dict[str, dict[str, str]] = {
    "black": {"pt": "preto", "es": "negro", "fr": "noir", "id": "hitam", "hi": "काला",
              "en": "black"},
    "white": {"pt": "branco", "es": "blanco", "fr": "blanc", "id": "putih", "hi": "सफ़ेद",
              "en": "white"},
    "brown": {"pt": "marrom", "es": "marrón", "fr": "marron", "id": "cokelat", "hi": "भूरा",
              "en": "brown"},
    "blue": {"pt": "azul", "es": "azul", "fr": "bleu", "id": "biru", "hi": "नीला",
             "en": "blue"},
}  # fmt: skip
# name pattern and a description sentence per language
NAME = {
    "pt": "{noun} de {material} {color}", "es": "{noun} de {material} {color}",
    "fr": "{noun} en {material} {color}", "id": "{noun} {material} {color}",
    "hi": "{color} {material} {noun}", "en": "{color} {material} {noun}",
}  # fmt: skip
DESCRIPTION = {
    "pt": "Feito à mão com {material} de qualidade, ideal para presente. Modelo {code}.",
    "es": "Hecho a mano con {material} de calidad, ideal para regalar. Modelo {code}.",
    "fr": "Fait main en {material} de qualité, idéal pour offrir. Modèle {code}.",
    "id": "Buatan tangan dari {material} berkualitas, cocok untuk hadiah. Model {code}.",
    "hi": "अच्छी गुणवत्ता वाले {material} से हाथ से बना, उपहार के लिए. मॉडल {code}.",
    "en": "Handmade from quality {material}, a perfect gift. Model {code}.",
}


@dataclass(frozen=True)
class Product:
    product_id: str
    language: str
    noun: str  # concept keys
    material: str
    color: str
    name: str
    description: str
    sku: str
    price: str
    currency: str


@dataclass
class Judged:
    kind: str
    text: str
    grades: dict[str, int] = field(default_factory=dict)  # product id -> 1 or 2


def catalog(size: int, seed: int = 7) -> list[Product]:
    rng = random.Random(seed)
    currencies = {"pt": "BRL", "es": "MXN", "fr": "EUR", "id": "IDR", "hi": "INR", "en": "USD"}
    out = []
    for i in range(size):
        language = LANGUAGES[i % len(LANGUAGES)]
        noun, material, color = (
            rng.choice(list(NOUNS)),
            rng.choice(list(MATERIALS)),
            rng.choice(list(COLORS)),
        )
        words = {
            "noun": NOUNS[noun][language][0],
            "material": MATERIALS[material][language],
            "color": COLORS[color][language],
        }
        name = NAME[language].format(**words)
        name = name[0].upper() + name[1:]
        code = f"{language.upper()}{i:05d}"
        out.append(
            Product(
                product_id=f"p{i:06d}",
                language=language,
                noun=noun,
                material=material,
                color=color,
                name=name,
                description=DESCRIPTION[language].format(material=words["material"], code=code),
                sku=f"SKU-{code}",
                price=f"{rng.randint(5, 900)}.{rng.choice(['00', '50', '90'])}",
                currency=currencies[language],
            )
        )
    return out


def _grades(products: list[Product], noun: str, material: str, color: str | None,
            languages: tuple[str, ...]) -> dict[str, int]:  # fmt: skip
    return {
        p.product_id: 2 if color is None or p.color == color else 1
        for p in products
        if p.noun == noun and p.material == material and p.language in languages
    }


def _same_words(p: Product) -> tuple[str, ...]:
    """Languages that write this good and material with the same (folded) words: a
    Portuguese "sandália de cerâmica" answers a Spanish "sandalia ceramica" as well."""
    noun, material = fold(NOUNS[p.noun][p.language][0]), fold(MATERIALS[p.material][p.language])
    return tuple(
        lang
        for lang in LANGUAGES
        if fold(NOUNS[p.noun][lang][0]) == noun and fold(MATERIALS[p.material][lang]) == material
    )


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not 0x300 <= ord(c) <= 0x36F)


def typo(word: str, edits: int, rng: random.Random) -> str:
    """``edits`` single edits (swap, drop, replace) at distinct places, never the first
    letter (shoppers rarely miss the first letter)."""
    letters = list(word)
    for _ in range(edits):
        i = rng.randrange(1, len(letters) - 1)
        kind = rng.choice(("swap", "drop", "replace"))
        if kind == "swap":
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        elif kind == "drop":
            del letters[i]
        else:
            letters[i] = rng.choice([c for c in "aeioulnrst" if c != letters[i]])
    return "".join(letters)


def _words(p: Product) -> tuple[str, str]:
    return NOUNS[p.noun][p.language][0], MATERIALS[p.material][p.language]


def _exact(p: Product, rng: random.Random) -> str | None:
    return " ".join(_words(p))


def _one_typo(p: Product, rng: random.Random) -> str | None:
    noun, material = _words(p)
    if p.language == "hi" or max(len(noun), len(material)) < 5:
        return None
    if len(noun) >= len(material):
        return f"{typo(noun, 1, rng)} {material}"
    return f"{noun} {typo(material, 1, rng)}"


def _two_typos(p: Product, rng: random.Random) -> str | None:
    noun, material = _words(p)
    return None if p.language == "hi" or len(noun) < 9 else f"{typo(noun, 2, rng)} {material}"


def _plural(p: Product, rng: random.Random) -> str | None:
    singular, plural_form = NOUNS[p.noun][p.language]
    return None if plural_form == singular else f"{plural_form} {_words(p)[1]}"


def _accentless(p: Product, rng: random.Random) -> str | None:
    text = " ".join(_words(p))
    return fold(text) if fold(text) != text and p.language != "hi" else None


def _synonym(p: Product, rng: random.Random) -> str | None:
    other = rng.choice([lang for lang in LANGUAGES if lang != p.language])
    return f"{NOUNS[p.noun][other][0]} {MATERIALS[p.material][other]}"


def _multi_word(p: Product, rng: random.Random) -> str | None:
    return f"{' '.join(_words(p))} {COLORS[p.color][p.language]}"


KINDS = {
    "exact": _exact,
    "typo_1": _one_typo,
    "typo_2": _two_typos,
    "inflection": _plural,
    "no_accents": _accentless,
    "synonym": _synonym,
    "multi_word": _multi_word,
}


def queries(products: list[Product], per_kind: int = 45, seed: int = 11) -> list[Judged]:
    """Judged queries of each kind; relevance by construction (see the module docstring)."""
    rng = random.Random(seed)
    out: list[Judged] = []
    for kind, make in KINDS.items():
        made = tries = 0
        while made < per_kind and tries < per_kind * 50:
            tries += 1
            p = rng.choice(products)
            text = make(p, rng)
            if text is None:
                continue
            langs = LANGUAGES if kind == "synonym" else _same_words(p)
            color = p.color if kind == "multi_word" else None
            out.append(Judged(kind, text, _grades(products, p.noun, p.material, color, langs)))
            made += 1
    for p in rng.sample(products, per_kind):
        out.append(Judged("sku", p.sku.lower() if rng.random() < 0.5 else p.sku, {p.product_id: 2}))
    return out
