"""Price parsing: the table of real-world spellings, and no crash on any input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sample_site import format_price
from pipeline.sources.prices import parse_price, price_from_number

TABLE = [
    ("R$ 1.299,90", "1299.9", "BRL"),
    ("R$1.299,90", "1299.9", "BRL"),
    ("₹1,299", "1299", "INR"),
    ("₹ 1,29,999.50", "129999.5", "INR"),
    ("Rs. 450", "450", "INR"),
    ("1 299,00 €", "1299", "EUR"),
    ("1\u202f299,00\u00a0€", "1299", "EUR"),
    ("€12,50", "12.5", "EUR"),
    ("$12", "12", "USD"),
    ("$1,299.99", "1299.99", "USD"),
    ("US$ 5.00", "5", "USD"),
    ("15.00 USD", "15", "USD"),
    ("USD 9.99", "9.99", "USD"),
    ("£7.5", "7.5", "GBP"),
    ("¥1,200", "1200", "JPY"),
    ("₦15,000", "15000", "NGN"),
    ("Rp 150.000", "150000", "IDR"),
    ("RM 39.90", "39.9", "MYR"),
    ("CHF 1'299.50", "1299.5", "CHF"),
    ("1.299 KWD", "1.299", "KWD"),
    ("0,00 €", "0", "EUR"),
    ("Preço: R$ 80,00 à vista", "80", "BRL"),
]


@pytest.mark.parametrize(("text", "amount", "currency"), TABLE)
def test_price_table(text: str, amount: str, currency: str) -> None:
    parsed = parse_price(text)
    assert (parsed.amount, parsed.currency, parsed.unparsed) == (Decimal(amount), currency, False)
    assert parsed.raw == text.strip()


@pytest.mark.parametrize(
    "text", ["", "Free", "Consulte", "10-20 USD", "R$ 10 ou R$ 12", "-5 USD", "1.2.3,4,5", "1e9"]
)
def test_unparseable_prices_keep_the_raw_text_and_are_flagged(text: str) -> None:
    parsed = parse_price(text)
    assert parsed.amount is None and parsed.unparsed
    assert parsed.raw == text


def test_dollar_sign_follows_the_declared_currency() -> None:
    assert parse_price("$ 300", "MXN").currency == "MXN"
    assert parse_price("US$ 300", "MXN").currency == "USD"
    assert parse_price("300", "brl").currency == "BRL"
    assert parse_price("300", "XXX").currency is None


def test_structured_amounts() -> None:
    assert price_from_number(12.5, "EUR").amount == Decimal("12.5")
    assert price_from_number(12, "EUR").amount == Decimal("12")
    assert price_from_number("1299.90", "BRL").amount == Decimal("1299.9")
    assert price_from_number(True, "EUR").unparsed
    assert price_from_number(1e30, "EUR").unparsed


@given(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    st.sampled_from(["BRL", "INR", "EUR", "USD", "IDR"]),
)
@settings(max_examples=200, deadline=None)
def test_sample_site_formats_round_trip(amount: Decimal, currency: str) -> None:
    if currency in ("INR", "IDR"):
        amount = amount.to_integral_value()
    parsed = parse_price(format_price(amount, currency), currency)
    assert parsed.amount == amount and parsed.currency == currency


@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=5)))
@settings(max_examples=400, deadline=None)
def test_never_crashes(text: str, hint: str | None) -> None:
    parsed = parse_price(text, hint)
    assert parsed.unparsed or parsed.amount is None or parsed.amount >= 0
    if parsed.amount is not None:
        assert parsed.amount < Decimal("1e13")
    assert parsed.currency is None or len(parsed.currency) == 3
