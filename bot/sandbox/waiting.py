"""What a test waited for and did not get, said in a sentence (EmulatorTimeout's message)."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.state import SandboxChat, SandboxMessage, World


def not_processed(world: World, target: int, timeout: float) -> str:
    pending = [update.update_id for update in world.pending if update.update_id <= target]
    how = (
        f"the webhook {world.webhook.url} did not answer 2xx"
        f" (last error: {world.webhook.last_error_message})"
        if world.webhook.url
        else "nobody confirmed them through getUpdates: is the bot polling this emulator"
        " (with handle_as_tasks=False)?"
    )
    return f"updates {pending} were not processed within {timeout} s: {how}"


def no_message(
    chat: SandboxChat,
    start: int,
    timeout: float,
    predicate: Callable[[SandboxMessage], bool] | None,
) -> str:
    sent = [m.content for m in chat.messages[start:] if m.outgoing and not m.deleted]
    what = "matching the predicate " if predicate is not None else ""
    return (
        f"no message from the bot {what}in {chat.name} within {timeout} s "
        f"(after message #{start}); the bot sent since: {sent or 'nothing'}"
    )
