"""The storefront's side of the shop (G1): API tokens, idempotent order creation, webhooks."""
