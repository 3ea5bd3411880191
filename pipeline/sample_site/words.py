"""What a sample product's name says it is: its kind of good and its colour.

The sample shops sell in English, Portuguese, Spanish and French, and tests add products
in those languages, so the words are listed in all four. Matching ignores case and
accents ("cerâmica" = "ceramica"), so a seller's missing accent still reads.
"""

from __future__ import annotations

import re
import unicodedata

RGB = tuple[int, int, int]

# kind -> the words that name it. The first kind word in a name wins: English puts
# its head noun last but its modifiers are materials ("leather wallet"), Romance
# languages put it first ("bolsa de couro").
KINDS: dict[str, tuple[str, ...]] = {
    "mug": ("mug", "mugs", "cup", "cups", "caneca", "canecas", "xicara", "taza", "tazas",
            "tasse", "tasses"),
    "tote": ("tote", "totes", "sacola", "sacolas", "shopper", "cabas"),
    "handbag": ("handbag", "handbags", "bag", "bags", "purse", "bolsa", "bolsas", "bolso",
                "bolsos", "sac", "sacs", "backpack", "mochila"),
    "wallet": ("wallet", "wallets", "carteira", "carteiras", "cartera", "carteras",
               "portefeuille", "billfold"),
    "candle": ("candle", "candles", "vela", "velas", "bougie", "bougies"),
    "shirt": ("shirt", "shirts", "tshirt", "tee", "kurta", "blouse", "camisa", "camisas",
              "camiseta", "camisetas", "chemise", "chemises"),
    "dress": ("dress", "dresses", "vestido", "vestidos", "robe", "robes"),
    "spoons": ("spoon", "spoons", "colher", "colheres", "cuchara", "cucharas", "cuillere",
               "cuilleres", "utensils", "ladle"),
    "basket": ("basket", "baskets", "cesta", "cestas", "cesto", "cestos", "panier",
               "paniers"),
    "earrings": ("earring", "earrings", "brinco", "brincos", "pendiente", "pendientes",
                 "arete", "aretes", "boucles"),
    "notebook": ("notebook", "notebooks", "journal", "diary", "book", "books", "caderno",
                 "cadernos", "cuaderno", "cuadernos", "carnet", "carnets", "livro", "libro",
                 "livre"),
    "scarf": ("scarf", "scarves", "shawl", "stole", "cachecol", "lenco", "echarpe",
              "bufanda", "foulard", "dupatta"),
    "planter": ("planter", "planters", "pot", "pots", "flowerpot", "maceta", "macetas",
                "cachepot", "cachepo"),
    "vase": ("vase", "vases", "vaso", "vasos", "jarron", "jarra", "jar", "jug"),
    "bracelet": ("bracelet", "bracelets", "bangle", "bangles", "pulseira", "pulseiras",
                 "pulsera", "pulseras", "necklace", "necklaces", "colar", "collar",
                 "collier", "beads"),
    "diya": ("diya", "diyas", "deepam"),
    "lamp": ("lamp", "lamps", "lampshade", "lantern", "luminaria", "luminarias", "lampara",
             "lamparas", "lampe", "lampes", "abajur"),
    "bottle": ("bottle", "bottles", "flask", "garrafa", "garrafas", "botella", "botellas",
               "bouteille", "bouteilles", "gourde"),
    "shoe": ("shoe", "shoes", "sandal", "sandals", "sneaker", "sneakers", "slipper",
             "slippers", "chappal", "chappals", "sapato", "sapatos", "sandalia", "sandalias",
             "zapato", "zapatos", "chaussure", "chaussures", "sandale", "sandales", "tenis"),
    "box": ("box", "boxes", "caixa", "caja", "boite", "hamper", "kit"),
}  # fmt: skip
FALLBACK_KIND = "box"  # a wrapped parcel: what an unknown good looks like in a photo

# colour -> (the RGB it is drawn in, the words that name it)
COLOURS: dict[str, tuple[RGB, tuple[str, ...]]] = {
    "red": ((205, 35, 40), ("red", "vermelho", "vermelha", "rojo", "roja", "rouge", "crimson",
                            "maroon")),
    "blue": ((35, 85, 205), ("blue", "azul", "bleu", "bleue", "navy", "indigo")),
    "green": ((40, 150, 65), ("green", "verde", "vert", "verte", "olive", "emerald")),
    "yellow": ((245, 205, 35), ("yellow", "amarelo", "amarela", "amarillo", "amarilla",
                                "jaune", "mustard")),
    "black": ((30, 30, 32), ("black", "preto", "preta", "negro", "negra", "noir", "noire")),
    "white": ((248, 248, 244), ("white", "branco", "branca", "blanco", "blanca", "blanc",
                                "blanche", "ivory")),
    "orange": ((245, 125, 25), ("orange", "laranja", "naranja", "saffron")),
    "purple": ((125, 55, 170), ("purple", "roxo", "roxa", "morado", "morada", "violet",
                                "violeta", "lilac", "lavender")),
    "teal": ((15, 145, 145), ("teal", "turquoise", "turquesa", "cyan", "aqua")),
    "brown": ((115, 70, 35), ("brown", "marrom", "marron", "castanho", "brun", "brune",
                              "chocolate", "tan")),
    "pink": ((240, 120, 170), ("pink", "rosa", "rose", "magenta", "fuchsia")),
    "grey": ((128, 128, 132), ("grey", "gray", "cinza", "gris", "grise", "charcoal")),
    "beige": ((222, 200, 160), ("beige", "cream", "creme", "crema", "natural", "sand")),
}  # fmt: skip
# Materials that give a colour when the name states none ("leather wallet" is brown);
# a colour word always wins ("red silver earrings" are red).
MATERIALS: dict[str, tuple[RGB, tuple[str, ...]]] = {
    "silver": ((192, 196, 202), ("silver", "prata", "plata", "argent", "steel", "aco")),
    "gold": ((212, 168, 55), ("gold", "golden", "brass", "dourado", "dourada", "dorado",
                              "dorada", "ouro", "oro", "laiton", "latao")),
    "leather": ((130, 78, 40), ("leather", "couro", "cuero", "cuir")),
    "wood": ((176, 124, 74), ("wood", "wooden", "madeira", "madera", "bois", "bamboo",
                              "bambu", "olivewood", "teak")),
    "terracotta": ((190, 95, 60), ("clay", "terracotta", "barro", "argila", "arcilla",
                                   "terre", "terracota")),
    "straw": ((214, 184, 120), ("seagrass", "straw", "rattan", "wicker", "palha", "vime",
                                "mimbre", "osier", "jute")),
    "linen": ((225, 215, 190), ("linen", "linho", "lino", "lin", "cotton", "algodao",
                                "algodon", "coton", "canvas")),
}  # fmt: skip
NEUTRAL = (150, 150, 155)


def _index(table: dict[str, tuple[RGB, tuple[str, ...]]]) -> dict[str, str]:
    return {word: key for key, (_, words) in table.items() for word in words}


_KIND_WORDS = {word: kind for kind, words in KINDS.items() for word in words}
_COLOUR_WORDS = _index(COLOURS)
_MATERIAL_WORDS = _index(MATERIALS)


def tokens(name: str) -> list[str]:
    """Lower-case words without accents; "T-shirt" is one word, "tshirt"."""
    plain = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = re.sub(r"(?<=\b[a-z])-(?=[a-z])", "", plain)
    return re.findall(r"[a-z]+", plain)


def kind_of(name: str) -> str:
    """The kind of good a name states (see ``KINDS``), else ``FALLBACK_KIND``."""
    return next((_KIND_WORDS[w] for w in tokens(name) if w in _KIND_WORDS), FALLBACK_KIND)


def colour_of(name: str) -> str | None:
    """The colour a name states, else the colour of the material it states, else None."""
    words = tokens(name)
    for table in (_COLOUR_WORDS, _MATERIAL_WORDS):
        found = next((table[w] for w in words if w in table), None)
        if found is not None:
            return found
    return None


def rgb_of(colour: str | None) -> RGB:
    """The RGB a colour (or material) key from ``colour_of`` is drawn in."""
    if colour in COLOURS:
        return COLOURS[colour][0]
    if colour in MATERIALS:
        return MATERIALS[colour][0]
    return NEUTRAL
