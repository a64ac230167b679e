"""Signed webhooks to the storefront on status changes (G1), delivered from the outbox."""
