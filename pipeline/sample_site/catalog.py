"""The sample catalog's data: sellers, products, broken and policy-breaking entries.

Everything is generated deterministically, so two runs (and every source reading it)
see the same catalog. Tests change it at run time through :class:`SampleCatalog`'s
methods (remove, update, add), which are thread-safe: the site serves from other threads.

Marked entries, for the tests of other stages:
- ``broken``: ``missing-name`` (no name), ``corrupt-image`` (bytes that are not a JPEG),
  ``404-image`` (the image URL answers 404). Every source must report them as skipped.
- ``policy``: ``weapon``, ``drug`` (one in Portuguese, one in English), ``zero-price``.
  They look like normal products on the site; only this data marks them, for QC tests.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pipeline.records import Availability
from pipeline.sample_site.words import FALLBACK_KIND, kind_of

GRAPH_TOKEN = "sample-token"


@dataclass(frozen=True)
class SampleProduct:
    retailer_id: str
    name: str
    description: str
    price: Decimal
    currency: str
    availability: Availability = Availability.IN_STOCK
    image_count: int = 1
    broken: str | None = None  # missing-name | corrupt-image | 404-image
    policy: str | None = None  # weapon | drug | zero-price

    def image_keys(self) -> list[str]:
        return [f"{self.retailer_id}-{i}" for i in range(self.image_count)]


@dataclass
class SampleSeller:
    phone: str
    name: str
    currency: str
    products: list[SampleProduct] = field(default_factory=list)

    @property
    def catalog_id(self) -> str:
        """The seller's catalog id in the Graph API imitation."""
        return "9" + self.phone


def format_price(amount: Decimal, currency: str) -> str:
    """The price as a seller in that market writes it (what the WhatsApp page shows)."""
    whole = int(amount)
    cents = f"{int((amount - whole) * 100):02d}"
    if currency == "BRL":
        return f"R$ {whole:,}".replace(",", ".") + f",{cents}"
    if currency == "INR":
        digits = str(whole)
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        lead = ",".join(([head] if head else []) + groups)
        return f"₹{lead + ',' if lead else ''}{tail}"
    if currency == "EUR":
        return f"{whole:,}".replace(",", " ") + f",{cents} €"
    if currency == "IDR":
        return f"Rp {whole:,}".replace(",", ".")
    if amount == whole:
        return f"${whole:,}"
    return f"${whole:,}.{cents}"


_ITEMS = [
    ("Ceramic mug", "Hand-thrown stoneware mug, 350 ml, dishwasher safe."),
    ("Cotton tote bag", "Heavy canvas tote with inner pocket."),
    ("Leather wallet", "Slim bifold wallet in vegetable-tanned leather."),
    ("Scented candle", "Soy wax candle, 40 hours, cedar and orange."),
    ("Linen shirt", "Relaxed-fit linen shirt, breathable for summer."),
    ("Wooden spoon set", "Three olive-wood spoons for cooking."),
    ("Woven basket", "Seagrass storage basket with handles."),
    ("Silver earrings", "Sterling silver hoop earrings, 2 cm."),
    ("Bamboo notebook", "A5 notebook with bamboo cover, 120 dotted pages."),
    ("Knitted scarf", "Merino wool scarf, warm and soft."),
    ("Clay planter", "Terracotta planter with drainage hole."),
    ("Beaded bracelet", "Glass bead bracelet on elastic cord."),
]
_COLOURS = ["red", "blue", "green", "yellow", "black", "white", "orange", "purple", "teal"]


# What each kind of good (``words.KINDS``) costs at a small shop, in US dollars.
PRICES_USD: dict[str, tuple[int, int]] = {
    "mug": (8, 25), "tote": (12, 40), "handbag": (60, 1500), "wallet": (25, 90),
    "candle": (10, 35), "shirt": (25, 80), "dress": (35, 150), "spoons": (10, 30),
    "basket": (18, 60), "earrings": (20, 90), "notebook": (8, 25), "scarf": (20, 70),
    "planter": (10, 45), "vase": (20, 80), "bracelet": (6, 25), "diya": (3, 15),
    "lamp": (25, 150), "bottle": (10, 35), "shoe": (30, 120), "box": (10, 60),
}  # fmt: skip
# Local units per dollar at the low and the high end: handmade goods follow what people
# earn more than the exchange rate, and Indian shops price over a wider band.
_PER_USD: dict[str, tuple[int | str, int | str]] = {
    "USD": (1, 1), "EUR": ("0.9", "0.95"), "BRL": ("3.6", "3.6"), "INR": (40, 60),
    "IDR": (15_000, 15_000),
}  # fmt: skip
# (the unit a price is a whole number of, the endings shops put after it)
_ROUNDING: dict[str, tuple[int, tuple[str, ...]]] = {
    "USD": (1, ("0.99", "0", "0.50")), "EUR": (1, ("0", "0.90", "0.50")),
    "BRL": (1, ("0.90", "0")), "INR": (10, ("9", "0")), "IDR": (1000, ("0",)),
}  # fmt: skip


def price_range(kind: str, currency: str) -> tuple[Decimal, Decimal]:
    """The lowest and highest price a sample product of ``kind`` has in ``currency``."""
    low_usd, high_usd = PRICES_USD.get(kind, PRICES_USD[FALLBACK_KIND])
    low_rate, high_rate = _PER_USD.get(currency, (1, 1))
    unit = Decimal(_ROUNDING.get(currency, (1, ()))[0])
    low = (low_usd * Decimal(low_rate) / unit).to_integral_value(ROUND_CEILING) * unit
    high = (high_usd * Decimal(high_rate) / unit).to_integral_value(ROUND_FLOOR) * unit
    return low, high


def plausible_price(kind: str, currency: str, seed: str) -> Decimal:
    """A price in ``price_range``, the same for the same seed, ending as shops in that
    currency end prices ($12.99, R$ 49,90, ₹449)."""
    digest = hashlib.sha256(f"price:{seed}".encode()).digest()
    low, high = price_range(kind, currency)
    unit, endings = _ROUNDING.get(currency, (1, ("0", "0.99")))
    steps = int((high - low) / unit)  # whole units below ``high``, so an ending stays under it
    whole = low + unit * (int.from_bytes(digest[:4], "big") % max(1, steps))
    price = whole + Decimal(endings[digest[4] % len(endings)])
    return price.quantize(Decimal("0.01")) if unit == 1 else price


def _generated(prefix: str, count: int, currency: str, seed: str) -> list[SampleProduct]:
    products = []
    for i in range(count):
        digest = hashlib.sha256(f"{seed}:{i}".encode()).digest()
        item, description = _ITEMS[digest[0] % len(_ITEMS)]
        colour = _COLOURS[digest[1] % len(_COLOURS)]
        availability = Availability.OUT_OF_STOCK if digest[4] % 7 == 0 else Availability.IN_STOCK
        products.append(
            SampleProduct(
                retailer_id=f"{prefix}-{i + 1:04d}",
                name=f"{colour.capitalize()} {item.lower()} #{i + 1}",
                description=f"{description} Colour: {colour}.",
                price=plausible_price(kind_of(item), currency, f"{seed}:{i}"),
                currency=currency,
                availability=availability,
                image_count=1 + digest[5] % 2,
            )
        )
    return products


def _restyled(product: SampleProduct, item: str, description: str, price: str) -> SampleProduct:
    """The same listing (colour, number, photos) as a dearer good: the prices written with
    thousands separators (R$ 1.299,90) must belong to goods that cost that much."""
    colour, number = product.name.split()[0], product.name.split()[-1]
    return replace(
        product,
        name=f"{colour} {item} {number}",
        description=f"{description} Colour: {colour.lower()}.",
        price=Decimal(price),
    )


def default_sellers(bulk_products: int = 200) -> list[SampleSeller]:
    """Four shops in four currencies, with the marked entries, plus one bulk seller."""
    ana = SampleSeller("5511987654321", "Loja da Ana", "BRL", _generated("ana", 42, "BRL", "ana"))
    ana.products[3] = _restyled(
        ana.products[3], "leather handbag", "Full-grain leather handbag, zip top.", "1299.90"
    )
    ana.products += [
        SampleProduct(
            "ana-missing",
            "",
            "A product whose name was never filled in.",
            Decimal("10"),
            "BRL",
            broken="missing-name",
        ),
        SampleProduct(
            "ana-corrupt",
            "Vaso de cerâmica azul",
            "Imagem corrompida.",
            Decimal("45.50"),
            "BRL",
            broken="corrupt-image",
        ),
        SampleProduct(
            "ana-drug",
            "Maconha prensada 25g",
            "Entrega discreta, pagamento no Pix.",
            Decimal("80"),
            "BRL",
            policy="drug",
        ),
    ]
    ravi = SampleSeller("919876543210", "Mumbai Crafts", "INR", _generated("ravi", 14, "INR", "r"))
    ravi.products[0] = replace(ravi.products[0], price=Decimal("1299"))  # a dear mug
    ravi.products += [
        SampleProduct(
            "ravi-404",
            "Brass diya lamp",
            "Its photo was deleted.",
            Decimal("450"),
            "INR",
            broken="404-image",
        ),
        SampleProduct(
            "ravi-pistol",
            "Country-made pistol with 10 rounds",
            "Untraceable, no licence needed.",
            Decimal("25000"),
            "INR",
            policy="weapon",
        ),
    ]
    claire = SampleSeller("33612345678", "Atelier Claire", "EUR", _generated("cl", 9, "EUR", "c"))
    claire.products[0] = _restyled(
        claire.products[0], "leather travel bag", "Calfskin weekend bag, made to order.", "1299.00"
    )
    claire.products += [
        SampleProduct(
            "cl-free",
            "Mystery gift box",
            "Price on request.",
            Decimal("0"),
            "EUR",
            policy="zero-price",
        ),
        SampleProduct(
            "cl-gummies",
            "Cannabis THC gummies 500mg",
            "Strong edibles, shipped in plain packaging.",
            Decimal("35"),
            "EUR",
            policy="drug",
            availability=Availability.PREORDER,
        ),
    ]
    joe = SampleSeller("15551234567", "Brooklyn Goods", "USD", _generated("bk", 6, "USD", "b"))
    joe.products[0] = replace(joe.products[0], price=Decimal("12"))
    bulk = SampleSeller(
        "10000000000", "Bulk Seller", "USD", _generated("bulk", bulk_products, "USD", "bulk")
    )
    return [ana, ravi, claire, joe, bulk]


class SampleCatalog:
    """The sellers the site serves; change them at run time with the methods below."""

    def __init__(self, sellers: list[SampleSeller] | None = None, *, bulk_products: int = 200):
        self._lock = threading.Lock()
        self._sellers = {s.phone: s for s in (sellers or default_sellers(bulk_products))}

    def sellers(self) -> list[SampleSeller]:
        with self._lock:
            return [
                SampleSeller(s.phone, s.name, s.currency, list(s.products))
                for s in self._sellers.values()
            ]

    def seller(self, phone: str) -> SampleSeller | None:
        with self._lock:
            found = self._sellers.get(phone)
            if found is None:
                return None
            return SampleSeller(found.phone, found.name, found.currency, list(found.products))

    def by_catalog_id(self, catalog_id: str) -> SampleSeller | None:
        return self.seller(catalog_id[1:]) if catalog_id.startswith("9") else None

    def product(self, phone: str, retailer_id: str) -> SampleProduct | None:
        seller = self.seller(phone)
        return (
            next((p for p in seller.products if p.retailer_id == retailer_id), None)
            if seller
            else None
        )

    def remove(self, phone: str, retailer_id: str) -> None:
        """Take a product off the catalog. Raises KeyError when it is not there."""
        with self._lock:
            seller = self._sellers[phone]
            before = len(seller.products)
            seller.products = [p for p in seller.products if p.retailer_id != retailer_id]
            if len(seller.products) == before:
                raise KeyError(f"{phone} has no product {retailer_id!r}")

    def update(self, phone: str, retailer_id: str, **changes: Any) -> SampleProduct:
        """Change fields of a product (name, price, description ...); returns the new one."""
        with self._lock:
            seller = self._sellers[phone]
            for i, product in enumerate(seller.products):
                if product.retailer_id == retailer_id:
                    seller.products[i] = replace(product, **changes)
                    return seller.products[i]
        raise KeyError(f"{phone} has no product {retailer_id!r}")

    def add(self, phone: str, product: SampleProduct) -> None:
        with self._lock:
            self._sellers[phone].products.append(product)

    def marked(self, kind: str) -> Iterator[tuple[str, SampleProduct]]:
        """(phone, product) for each product marked ``broken`` or ``policy``."""
        for seller in self.sellers():
            for product in seller.products:
                if getattr(product, kind) is not None:
                    yield seller.phone, product
