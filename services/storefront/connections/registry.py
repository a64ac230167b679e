"""The connector of each platform, built as the deployment says: Shopify's API base URL
(SHOPIFY_API_URL: unset, each shop's own https://<shop>.myshopify.com) and whether a store
may be on loopback over plain HTTP (tests, the demo). Tilda's carries the shop's currency,
its payloads carry none."""

from __future__ import annotations

from services.storefront.connectors import (
    Connector,
    ShopifyConnector,
    TildaConnector,
    WooCommerceConnector,
)
from services.storefront.connectors.base import CredentialField

PLATFORMS = ("woocommerce", "shopify", "tilda")
TITLES = {"woocommerce": "WooCommerce", "shopify": "Shopify", "tilda": "Tilda"}
# Secrets ShopBot makes for the shop rather than asks for: Tilda sends back a key we give it.
MADE_BY_US = {"tilda": "api_key"}


class ConnectorRegistry:
    def __init__(self, *, shopify_api_url: str | None = None, loopback_stores: bool = False):
        self._woocommerce = WooCommerceConnector(allow_loopback_http=loopback_stores)
        self._shopify = ShopifyConnector(api_base=shopify_api_url)

    def get(self, platform: str, currency: str) -> Connector:
        if platform == "woocommerce":
            return self._woocommerce
        if platform == "shopify":
            return self._shopify
        if platform == "tilda":
            return TildaConnector(currency=currency)
        raise KeyError(platform)

    def asked(self, platform: str) -> tuple[CredentialField, ...]:
        """What the shop types in, in order: every field but the ones ShopBot makes."""
        fields = self.get(platform, "RUB").secret_fields
        return tuple(f for f in fields if f.name != MADE_BY_US.get(platform))
