"""Where things are on a WhatsApp-style catalog page: every selector in one place.

WhatsApp's catalog markup is not documented and changes; when it does, this file is the
only one to edit. ``SAMPLE_PROFILE`` matches the bundled sample site (whose markup
imitates the catalog's structure with stable ``data-testid`` hooks); ``WHATSAPP_PROFILE``
is the profile for ``wa.me/c/<number>`` opened in WhatsApp Web with a saved session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteProfile:
    name: str
    # The list page
    list_ready: str  # something that exists once the list (or its end/unavailable) rendered
    item: str
    item_link: str  # inside an item: the link to its detail page (href)
    item_id_attr: str  # attribute of the item holding the product id
    item_name: str
    item_price: str
    end_marker: str  # shown when the list has no more pages
    unavailable: str  # shown for an unknown or unavailable catalog
    login_wall: str  # shown when a logged-in WhatsApp Web session is required
    seller_name: str  # the business name the catalog shows (fills the seller's profile)
    # The detail page
    detail: str
    detail_id_attr: str
    detail_name: str
    detail_price: str
    detail_description: str
    detail_images: str
    detail_availability: str
    detail_url_pattern: re.Pattern[str]


SAMPLE_PROFILE = SiteProfile(
    name="sample",
    list_ready=(
        "[data-testid=catalog-item], [data-testid=catalog-end], "
        "[data-testid=catalog-unavailable], [data-testid=login-required]"
    ),
    item="[data-testid=catalog-item]",
    item_link="a[href]",
    item_id_attr="data-product-id",
    item_name="[data-testid=product-title]",
    item_price="[data-testid=product-price]",
    end_marker="[data-testid=catalog-end]",
    unavailable="[data-testid=catalog-unavailable]",
    login_wall="[data-testid=login-required]",
    seller_name="[data-testid=catalog-seller-name]",
    detail="[data-testid=product-detail]",
    detail_id_attr="data-retailer-id",
    detail_name="[data-testid=product-title]",
    detail_price="[data-testid=product-price]",
    detail_description="[data-testid=product-description]",
    detail_images="img[data-testid=product-image]",
    detail_availability="[data-testid=product-availability]",
    detail_url_pattern=re.compile(r"/p/\d+/[^/?#]+$"),
)

# WhatsApp Web renders the catalog with the same test hooks the app's own UI tests use;
# only the login wall differs (the QR landing page). Verify against a live session before
# relying on it: we cannot test it offline.
WHATSAPP_PROFILE = SiteProfile(
    **{
        **SAMPLE_PROFILE.__dict__,
        "name": "whatsapp",
        "list_ready": SAMPLE_PROFILE.list_ready + ", canvas[aria-label*='QR'], #landing-title",
        "login_wall": "canvas[aria-label*='QR'], #landing-title, [data-testid=login-required]",
    }
)

WHATSAPP_HOSTS = frozenset({"wa.me", "api.whatsapp.com", "web.whatsapp.com", "www.whatsapp.com"})
CATALOG_PATH = re.compile(r"^/c/(\+?\d{6,15})/?$")


def profile_for(host: str) -> SiteProfile:
    """The profile for a catalog URL's host."""
    return WHATSAPP_PROFILE if host in WHATSAPP_HOSTS else SAMPLE_PROFILE
