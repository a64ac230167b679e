"""The Bot API methods the emulator answers, by Telegram's method name (case-insensitive)."""

from __future__ import annotations

from bot.sandbox.methods import chats, media, messages, payments, updates
from bot.sandbox.methods.context import Context, Handler

REGISTRY: dict[str, Handler] = {
    name.lower(): handler
    for module in (chats, media, messages, payments, updates)
    for name, handler in module.METHODS.items()
}

__all__ = ["REGISTRY", "Context", "Handler"]
