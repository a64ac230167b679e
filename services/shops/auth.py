"""Secrets the bot hands out: storefront API tokens and buyers' deep-link tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "sbk_"


def new_api_token() -> str:
    """A storefront token: shown once, stored only as its hash."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def new_buyer_token() -> str:
    """22 url-safe characters (128 bits): fits Telegram's /start payload, cannot be guessed."""
    return secrets.token_urlsafe(16)
