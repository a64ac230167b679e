"""Shops' stores on WooCommerce, Shopify and Tilda, wired to the order service (H4).

`service` keeps a shop's connection (credentials sealed), `inbound` takes what a platform
sends (verified first, each platform order once), `platform_status` writes the status
changes a platform hears back into the outbox, and `pump` sends them.
"""
