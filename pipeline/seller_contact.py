"""What shoppers see of a seller: display name, WhatsApp number, shop URL; validated."""

from __future__ import annotations

import re

from pipeline.errors import PermanentError

MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 120
WHATSAPP_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")  # E.164 digits, no "+"
CONTACT_FIELDS = ("display_name", "whatsapp", "shop_url")


def check_contact(
    display_name: str | None, whatsapp: str | None, shop_url: str | None
) -> dict[str, str]:
    """The contact fields given (``""`` clears one), validated; raises PermanentError."""
    out: dict[str, str] = {}
    if display_name is not None:
        name = " ".join(display_name.split())
        if len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise PermanentError(
                f"display name must be up to {MAX_NAME_CHARS} printable characters"
            )
        out["display_name"] = name
    if whatsapp is not None:
        digits = re.sub(r"[\s()+.-]", "", whatsapp)
        if digits and not WHATSAPP_NUMBER.fullmatch(digits):
            raise PermanentError(
                f"WhatsApp number must be 7-15 digits with the country code, got {whatsapp[:40]!r}"
            )
        out["whatsapp"] = digits
    if shop_url is not None:
        if shop_url and (
            not shop_url.startswith(("https://", "http://")) or len(shop_url) > MAX_URL_CHARS
        ):
            raise PermanentError(f"shop URL must be http(s) and up to {MAX_URL_CHARS} characters")
        out["shop_url"] = shop_url
    return out
