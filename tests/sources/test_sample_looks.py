"""The sample shop looks like a shop: photos show what names say, prices fit the goods."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import numpy as np
import pytest
from PIL import Image

from pipeline.sample_site.catalog import default_sellers, price_range
from pipeline.sample_site.drawings import DRAWINGS
from pipeline.sample_site.images import LABEL_INK, label_top, product_jpeg
from pipeline.sample_site.words import COLOURS, KINDS, colour_of, kind_of

_NAMES = sorted(COLOURS)
_RGB = np.array([COLOURS[c][0] for c in _NAMES], float)


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"), float)


def _object_colours(jpeg: bytes) -> tuple[Counter[str], float]:
    """Each pixel of the drawing (not the backdrop, not the label) by its nearest named
    colour, and the share of the photo the drawing covers."""
    drawn = _pixels(jpeg)[: label_top()]
    corners = [drawn[2, 2], drawn[2, -3], drawn[-3, 2], drawn[-3, -3]]
    backdrop = np.median(np.array(corners), axis=0)
    pixels = drawn.reshape(-1, 3)
    pixels = pixels[np.linalg.norm(pixels - backdrop, axis=1) > 60]
    nearest = np.argmin(np.linalg.norm(pixels[:, None, :] - _RGB[None], axis=2), axis=1)
    return Counter(_NAMES[i] for i in nearest), len(pixels) / (drawn.shape[0] * drawn.shape[1])


@pytest.mark.parametrize("kind", sorted(DRAWINGS))
def test_each_kind_is_drawn_in_the_colour_its_name_states(kind: str) -> None:
    for colour in _NAMES:
        name = f"{colour.capitalize()} {KINDS[kind][0]} #7"
        counts, covered = _object_colours(product_jpeg(f"{kind}-{colour}-0", name=name))
        assert covered > 0.05, (name, covered)  # something is drawn, not a bare backdrop
        top, _ = counts.most_common(1)[0]
        share = counts[colour] / sum(counts.values())
        assert top == colour and share > 0.45, (name, counts.most_common(3))


def test_names_are_read_in_the_shops_languages() -> None:
    assert (kind_of("Caneca branca"), colour_of("Caneca branca")) == ("mug", "white")
    assert (kind_of("Taza roja de cerámica"), colour_of("Taza roja de cerámica")) == ("mug", "red")
    assert (kind_of("Bougie bleue"), colour_of("Bougie bleue")) == ("candle", "blue")
    assert (kind_of("Vaso de ceramica azul"), colour_of("Vaso de cerâmica azul")) == (
        "vase",
        "blue",
    )
    assert (kind_of("Black cotton T-shirt"), colour_of("Black cotton T-shirt")) == (
        "shirt",
        "black",
    )
    # A colour word beats a material; a material gives the colour when no word does.
    assert colour_of("Sandália preta de couro") == "black" and kind_of("Sandália") == "shoe"
    assert colour_of("Red silver earrings") == "red"
    assert colour_of("Leather wallet") == "leather" and colour_of("Brass diya lamp") == "gold"
    assert (kind_of("Brass diya lamp"), kind_of("Mystery gift box")) == ("diya", "box")
    assert kind_of("Country-made pistol") == "box" and colour_of("Mystery gift box") is None


def test_a_material_without_a_colour_word_is_drawn_in_the_material() -> None:
    counts, _ = _object_colours(product_jpeg("m-0", name="Carteira de couro"))
    assert counts.most_common(1)[0][0] == "brown", counts.most_common(3)


def test_the_name_is_written_on_the_label() -> None:
    def ink(jpeg: bytes) -> np.ndarray:
        label = _pixels(jpeg)[label_top() + 2 :]
        return np.linalg.norm(label - np.array(LABEL_INK, float), axis=2) < 80

    blank = ink(product_jpeg("label-0"))
    short = ink(product_jpeg("label-0", name="Red mug"))
    long = ink(product_jpeg("label-0", name="Orange leather handbag with a long strap #12"))
    assert blank.sum() == 0
    assert 100 < short.sum() < long.sum()
    # Centred under the drawing, and two lines for a name too long for one.
    columns = np.flatnonzero(short.any(axis=0))
    assert abs((columns[0] + columns[-1]) / 2 - short.shape[1] / 2) < 8
    rows = np.flatnonzero(long.any(axis=1))
    assert np.any(np.diff(rows) > 3), "a long name wraps onto a second line"
    # A name the built-in font cannot spell is written without its accents, not as boxes.
    assert (ink(product_jpeg("label-0", name="Vaso de cerâmica"))
            == ink(product_jpeg("label-0", name="Vaso de ceramica"))).mean() > 0.97  # fmt: skip


def test_the_catalog_photos_are_distinct_and_the_same_every_run() -> None:
    keys = [
        (key, product.name)
        for seller in default_sellers(bulk_products=40)
        for product in seller.products
        for key in product.image_keys()
    ]
    digests = [hashlib.sha256(product_jpeg(key, name=name)).hexdigest() for key, name in keys]
    assert len(set(digests)) == len(keys)
    # Another interpreter draws the same bytes (no cache, no state carried over).
    probe = (
        "import hashlib; from pipeline.sample_site.images import product_jpeg; "
        f"print([hashlib.sha256(product_jpeg(k, name=n)).hexdigest() for k, n in {keys[:6]!r}])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == repr(digests[:6])


def test_prices_fit_the_good_and_the_currency() -> None:
    sellers = default_sellers(bulk_products=200)
    products = [
        (p, p.currency)
        for s in sellers
        for p in s.products
        if p.broken is None and p.policy is None
    ]
    for product, currency in products:
        low, high = price_range(kind_of(product.name), currency)
        assert low <= product.price <= high, (product.name, product.price, currency)
    mugs = {
        currency: [p.price for p, c in products if c == currency and "mug" in p.name]
        for currency in ("USD", "INR", "BRL")
    }
    assert all(mugs.values())
    assert Decimal(8) <= min(mugs["USD"]) and max(mugs["USD"]) <= Decimal(25)
    assert Decimal(300) <= min(mugs["INR"]) and max(mugs["INR"]) <= Decimal(1500)
    assert Decimal(28) <= min(mugs["BRL"]) and max(mugs["BRL"]) <= Decimal(90)
    assert price_range("handbag", "USD")[0] > price_range("mug", "USD")[0]
    assert price_range("handbag", "EUR")[1] > 10 * price_range("mug", "EUR")[1]
    # The prices written with thousands separators belong to goods that cost that much.
    dear = [(p.name, p.price) for p, _ in products if p.price >= 1000 and p.currency != "INR"]
    assert dear == [
        ("Orange leather handbag #4", Decimal("1299.90")),
        ("Red leather travel bag #1", Decimal("1299.00")),
    ]
    # Shop endings: whole rupees, reais ending ,90 or ,00, and the same prices every run.
    assert all(p.price == p.price.to_integral_value() for p, c in products if c == "INR")
    assert {p.price % 1 for p, c in products if c == "BRL"} <= {Decimal("0.90"), Decimal(0)}
    again = default_sellers(bulk_products=200)
    assert [p.price for s in again for p in s.products] == [
        p.price for s in sellers for p in s.products
    ]
