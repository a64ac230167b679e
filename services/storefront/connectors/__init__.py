"""Storefront platform connectors (H4): WooCommerce, Shopify and Tilda orders in, statuses out.

`base` says what a connector is and how the edge uses one; each platform has its module.
"""

from __future__ import annotations

from services.storefront.connectors.base import (
    Connector,
    ConnectorOrder,
    ConnectorRefused,
    CredentialField,
    PlatformError,
    PlatformStatus,
    SignatureInvalid,
    verified,
)
from services.storefront.connectors.shopify import ShopifyConnector
from services.storefront.connectors.tilda import TildaConnector
from services.storefront.connectors.woocommerce import WooCommerceConnector

PLATFORMS = ("woocommerce", "shopify", "tilda")

__all__ = [
    "PLATFORMS",
    "Connector",
    "ConnectorOrder",
    "ConnectorRefused",
    "CredentialField",
    "PlatformError",
    "PlatformStatus",
    "ShopifyConnector",
    "SignatureInvalid",
    "TildaConnector",
    "WooCommerceConnector",
    "verified",
]
