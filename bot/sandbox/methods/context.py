"""What every Bot API method works with, and the checks most of them share."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bot.sandbox import errors, webapp
from bot.sandbox.errors import bad_request, forbidden, too_many_requests
from bot.sandbox.formatting import parse
from bot.sandbox.limits import FloodControl, FloodWait
from bot.sandbox.params import Params
from bot.sandbox.rules import check_reply_markup
from bot.sandbox.state import SandboxChat, SandboxMessage, World


@dataclass
class Context:
    world: World
    flood: FloodControl
    http: aiohttp.ClientSession | None = None  # fetches files a bot sends by URL
    poll_generation: int = 0  # each getUpdates call supersedes the one still waiting
    waiting_polls: int = 0  # getUpdates calls being answered right now


Handler = Callable[[Context, Params], Awaitable[Any]]

CHAT_ID = re.compile(r"-?\d{1,20}")
DELETE_WINDOW = timedelta(hours=48)  # a message older than this can't be deleted for everyone


def find_chat(world: World, params: Params, name: str = "chat_id") -> SandboxChat:
    """The chat a call names, or "chat not found".

    Only numeric ids: "@username" addresses public groups and channels, which the emulator
    does not model (Telegram does not resolve users by @username either).
    """
    value = params.text(name)
    if value is None:
        raise bad_request(f"{name} is empty")
    chat_id = _chat_id(value)
    chat = world.chats.get(chat_id) if chat_id is not None else None
    if chat is None or (chat.peer is not None and not chat.peer.started):
        # A user who never opened the chat is unknown to the bot.
        raise bad_request(errors.CHAT_NOT_FOUND)
    return chat


def writable_chat(world: World, params: Params) -> SandboxChat:
    """A chat the bot may post to now, or the 403 Telegram answers."""
    chat_id = _chat_id(params.text("chat_id") or "")
    user = world.users.get(chat_id) if chat_id is not None else None
    if user is not None and not user.started:
        # The user exists but never opened the chat: a bot can't write first.
        raise forbidden(errors.CANT_INITIATE)
    chat = find_chat(world, params)
    check_writable(chat)
    return chat


def _chat_id(value: str) -> int | None:
    return int(value) if CHAT_ID.fullmatch(value) else None


def check_writable(chat: SandboxChat) -> None:
    if chat.peer is not None:
        if chat.peer.is_bot:
            raise forbidden("bot can't send messages to bots")
        if chat.peer.blocked:
            raise forbidden(errors.BLOCKED)
        if not chat.peer.started:
            raise forbidden(errors.CANT_INITIATE)
        return
    kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
    if chat.bot_status == "kicked":
        raise forbidden(f"bot was kicked from the {kind}")
    if chat.bot_status not in ("member", "administrator"):
        raise forbidden(f"bot is not a member of the {kind}")


def formatted(params: Params, name: str, entities_name: str) -> tuple[str | None, Any]:
    """Text (or caption) with its entities: parsed from parse_mode markup or given as JSON."""
    source = params.text(name)
    if source is None:
        return None, None
    entities = params.json_value(entities_name, "can't parse entities JSON object")
    if entities:
        return source, entities
    return parse(source, params.text("parse_mode"))


def inline_markup(params: Params) -> dict[str, Any] | None:
    markup = check_reply_markup(
        params.json_value("reply_markup", "can't parse reply keyboard markup JSON object")
    )
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


def reply_target(chat: SandboxChat, params: Params) -> SandboxMessage | None:
    """The message to reply to: reply_to_message_id or reply_parameters (Bot API 7.0)."""
    reply = params.json_value("reply_parameters", "can't parse reply parameters JSON object")
    if isinstance(reply, dict):
        message_id, tolerant = (
            reply.get("message_id"),
            bool(reply.get("allow_sending_without_reply")),
        )
    else:
        message_id = params.integer("reply_to_message_id")
        tolerant = params.flag("allow_sending_without_reply")
    if message_id is None:
        return None
    if not isinstance(message_id, int | str) or not str(message_id).isdigit():
        raise bad_request("can't parse reply parameters JSON object")
    target = chat.find(int(message_id))
    if target is None and not tolerant:
        raise bad_request(errors.REPLY_NOT_FOUND)
    return target


def take_flood_token(ctx: Context, chat: SandboxChat) -> None:
    try:
        ctx.flood.check(chat.id, chat.is_private)
    except FloodWait as wait:
        raise too_many_requests(wait.retry_after) from wait


def post(ctx: Context, chat: SandboxChat, params: Params, **fields: Any) -> SandboxMessage:
    """Store a message from the bot after Telegram's flood control let it through."""
    markup = check_reply_markup(
        params.json_value("reply_markup", "can't parse reply keyboard markup JSON object")
    )
    webapp.check_web_app_buttons(markup, chat)
    reply_to = reply_target(chat, params)
    take_flood_token(ctx, chat)
    custom = None
    if markup is not None and "inline_keyboard" not in markup:
        # A custom keyboard belongs to the chat, not to the message.
        custom, markup = markup, None
    message = ctx.world.add_message(
        chat,
        ctx.world.bot,
        outgoing=True,
        reply_markup=markup,
        reply_to=reply_to,
        silent=params.flag("disable_notification"),
        **fields,
    )
    if custom is not None and "keyboard" in custom:
        chat.reply_keyboard, chat.keyboard_message = custom, message
    elif custom is not None and custom.get("remove_keyboard"):
        chat.reply_keyboard, chat.keyboard_message = None, None
    return message


def existing_message(chat: SandboxChat, params: Params, not_found: str) -> SandboxMessage:
    message_id = params.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.find(message_id)
    if message is None:
        raise bad_request(not_found)
    return message
