"""Price text to (Decimal, ISO 4217 currency), for the ways sellers write prices.

``R$ 1.299,90`` -> 1299.9 BRL, ``₹1,299`` -> 1299 INR, ``1 299,00 €`` -> 1299 EUR,
``$12`` -> 12 USD, ``15.00 USD`` -> 15 USD, ``Rp 150.000`` -> 150000 IDR. What cannot be
read keeps its raw text and is flagged ``unparsed``; nothing here raises on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_PRICE_TEXT = 200
MAX_AMOUNT = Decimal("1e13")

# Longest symbols first so "R$" wins over "$".
SYMBOLS: dict[str, str] = {
    "R$": "BRL",
    "US$": "USD",
    "U$S": "USD",
    "A$": "AUD",
    "AU$": "AUD",
    "C$": "CAD",
    "CA$": "CAD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "MX$": "MXN",
    "COL$": "COP",
    "RD$": "DOP",
    "NT$": "TWD",
    "S/": "PEN",
    "KSH": "KES",
    "KSh": "KES",
    "Rs.": "INR",
    "Rs": "INR",
    "RM": "MYR",
    "Rp": "IDR",
    "zł": "PLN",
    "Kč": "CZK",
    "Ft": "HUF",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "¥": "JPY",
    "₦": "NGN",
    "₱": "PHP",
    "₺": "TRY",
    "₩": "KRW",
    "₽": "RUB",
    "₫": "VND",
    "₴": "UAH",
    "₪": "ILS",
    "₵": "GHS",
    "৳": "BDT",
    "₭": "LAK",
    "฿": "THB",
    "₡": "CRC",
    "₲": "PYG",
    "₸": "KZT",
    "₼": "AZN",
    "$": "USD",
}
# ISO 4217 codes in current use that sellers write next to amounts.
ISO_CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWL""".split()
)
THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007']")
_MACHINE_AMOUNT = re.compile(r"\d{1,13}\.\d{1,6}")
_NUMBER = re.compile(r"\d[\d\s\u00a0\u202f\u2009\u2007'.,]*")


@dataclass(frozen=True)
class ParsedPrice:
    amount: Decimal | None
    currency: str | None
    raw: str
    unparsed: bool


def canonical_amount(value: Decimal) -> Decimal:
    """One spelling per amount (``1299.90`` and ``1299.9`` hash alike), never an exponent."""
    value = value.normalize()
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value


def _currency_from_text(text: str) -> str | None:
    # Upper case only: "all", "top", "cup" are words before they are currencies.
    for token in re.findall(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])", text):
        if token in ISO_CODES:
            return str(token)
    for symbol in sorted(SYMBOLS, key=len, reverse=True):
        if symbol in text:
            return SYMBOLS[symbol]
    return None


def _number(text: str, currency: str | None) -> Decimal | None:
    """Read one amount with its thousands and decimal separators guessed from the shape."""
    digits = _SPACES.sub("", text).strip(".,")
    if not digits or not re.fullmatch(r"\d[\d.,]*", digits):
        return None
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal_sep = "." if digits.rfind(".") > digits.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        if digits.count(decimal_sep) > 1:
            return None
        digits = digits.replace(thousands, "").replace(decimal_sep, ".")
    elif dots + commas == 1:
        sep = "." if dots else ","
        head, tail = digits.split(sep)
        # "1.299" / "₹1,299" are thousands; "12,50" / "9.99" are decimals. Three-decimal
        # currencies (KWD ...) read "1.299" as a decimal.
        is_thousands = len(tail) == 3 and currency not in THREE_DECIMALS and head != "0"
        digits = head + tail if is_thousands else f"{head}.{tail}"
    elif dots + commas > 1:
        sep = "." if dots else ","
        groups = digits.split(sep)
        if any(len(g) not in (2, 3) for g in groups[1:]):  # 2 for Indian "1,00,000"
            return None
        digits = digits.replace(sep, "")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def parse_price(text: object, currency_hint: str | None = None) -> ParsedPrice:
    """Parse a price as sellers write it. A currency in the text wins over ``currency_hint``
    unless the text only has the ambiguous ``$``. Never raises."""
    raw = str(text if text is not None else "")[:MAX_PRICE_TEXT].strip()
    hint = currency_hint.strip().upper() if isinstance(currency_hint, str) else None
    hint = hint if hint in ISO_CODES else None
    found = _currency_from_text(raw)
    if found == "USD" and hint and not re.search(r"USD|US\$|U\$S", raw):
        found = hint  # "$" alone is also MXN, ARS, CLP, COP ...: trust the declared currency
    currency = found or hint
    if re.search(r"(^|[^\w])-\s*\d", raw):
        return ParsedPrice(None, currency, raw, True)
    numbers = _NUMBER.findall(raw)
    numbers = [n for n in numbers if _SPACES.sub("", n).strip(".,")]
    if len(numbers) != 1:
        return ParsedPrice(None, currency, raw, True)
    amount = _number(numbers[0], currency)
    if amount is None or amount >= MAX_AMOUNT:
        return ParsedPrice(None, currency, raw, True)
    amount = canonical_amount(amount)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        amount = canonical_amount(amount.quantize(Decimal("0.0001")))
    return ParsedPrice(amount, currency, raw, False)


def price_from_number(value: object, currency: object) -> ParsedPrice:
    """A structured amount (JSON-LD ``price``, a feed column) with its currency code."""
    hint = currency if isinstance(currency, str) else None
    if isinstance(value, bool):
        return ParsedPrice(None, None, str(value), True)
    if isinstance(value, int | float):
        value = repr(value)
    if isinstance(value, str) and _MACHINE_AMOUNT.fullmatch(value.strip()):
        # schema.org and feeds write amounts with a "." decimal point and no grouping:
        # "2.449" there is two and a bit, not two thousand.
        return _machine(value.strip(), hint)
    return parse_price(value, hint)


def _machine(value: str, hint: str | None) -> ParsedPrice:
    parsed = parse_price(value, hint)
    amount = Decimal(value)
    if amount >= MAX_AMOUNT:
        return ParsedPrice(None, parsed.currency, value, True)
    return ParsedPrice(canonical_amount(amount), parsed.currency, value, False)
