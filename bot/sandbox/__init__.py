"""A Telegram Bot API emulator (SPEC G3): try the bot without Telegram, test it end to end.

See docs/emulator.md. `TelegramEmulator` is the handle for tests and the demo;
`serve_forever` runs it as a server for `python -m bot emulator`.
"""

from bot.sandbox.checkout import CheckoutResult
from bot.sandbox.emulator import EmulatorTimeout, TelegramEmulator
from bot.sandbox.invoices import SandboxInvoice
from bot.sandbox.limits import FloodLimits
from bot.sandbox.server import add_arguments, run, serve_forever
from bot.sandbox.state import (
    CallbackAnswer,
    SandboxCallbackQuery,
    SandboxChat,
    SandboxError,
    SandboxMessage,
    SandboxUser,
    StoredFile,
)

__all__ = [
    "CallbackAnswer",
    "CheckoutResult",
    "EmulatorTimeout",
    "FloodLimits",
    "SandboxCallbackQuery",
    "SandboxChat",
    "SandboxError",
    "SandboxInvoice",
    "SandboxMessage",
    "SandboxUser",
    "StoredFile",
    "TelegramEmulator",
    "add_arguments",
    "run",
    "serve_forever",
]
