"""The bot itself, chats and their members, the command menu, and harmless settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.sandbox import webapp
from bot.sandbox.errors import bad_request
from bot.sandbox.methods.context import Context, Handler, find_chat
from bot.sandbox.params import Params
from bot.sandbox.rules import check_commands
from bot.sandbox.state import SandboxChat, SandboxUser, World, member_api

JsonDict = dict[str, Any]

GIFT_TYPES = "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
NO_GIFTS = dict.fromkeys(GIFT_TYPES.split(), False)


async def get_me(ctx: Context, params: Params) -> JsonDict:
    return {
        **ctx.world.bot.to_api(),
        "can_join_groups": True,
        # Privacy mode: in groups the bot sees commands, replies to it and mentions only.
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_chat(ctx: Context, params: Params) -> JsonDict:
    chat = find_chat(ctx.world, params)
    return {
        **chat.to_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": NO_GIFTS,
    }


def _member(world: World, params: Params) -> tuple[SandboxChat, SandboxUser]:
    chat = find_chat(world, params)
    user = world.find_user(params.required_integer("user_id", "user_id is empty"))
    if user is None:
        raise bad_request("user not found")
    if chat.is_private and user is not chat.peer and user is not world.bot:
        raise bad_request("user not found")
    return chat, user


async def get_chat_member(ctx: Context, params: Params) -> JsonDict:
    chat, user = _member(ctx.world, params)
    return member_api(ctx.world.member_status(chat, user), user)


async def get_chat_administrators(ctx: Context, params: Params) -> list[JsonDict]:
    world = ctx.world
    chat = find_chat(world, params)
    if chat.is_private:
        raise bad_request("there are no administrators in the private chat")
    admins = [
        member_api(status, world.users[user_id])
        for user_id, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_status == "administrator":
        admins.append(member_api("administrator", world.bot))
    return admins


async def get_chat_member_count(ctx: Context, params: Params) -> int:
    chat = find_chat(ctx.world, params)
    people = sum(status not in ("left", "kicked") for status in chat.members.values())
    return people + (chat.bot_status in ("member", "administrator"))


async def leave_chat(ctx: Context, params: Params) -> bool:
    world = ctx.world
    chat = find_chat(world, params)
    if chat.is_private:
        raise bad_request("chat member status can't be changed in private chats")
    if chat.bot_status not in ("member", "administrator"):
        raise bad_request("bot is not a member of the group chat")
    old = chat.bot_status
    chat.bot_status = "left"
    world.push_update("my_chat_member", chat_member_update(world, chat, world.bot, old, "left"))
    return True


def chat_member_update(
    world: World, chat: SandboxChat, by: SandboxUser, old: str, new: str
) -> Callable[[], JsonDict]:
    """A my_chat_member payload (rendered on delivery, when the bot's id is known)."""
    date = world.now()

    def render() -> JsonDict:
        return {
            "chat": chat.to_api(),
            "from": by.to_api(),
            "date": date,
            "old_chat_member": member_api(old, world.bot),
            "new_chat_member": member_api(new, world.bot),
        }

    return render


def _scope_key(params: Params) -> str:
    """Commands are kept per scope and language; the scope in a canonical JSON form."""
    scope = params.json_value("scope", "can't parse BotCommandScope JSON object")
    if scope is None:
        scope = {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True)


async def set_my_commands(ctx: Context, params: Params) -> bool:
    commands = check_commands(params.json_value("commands", "can't parse commands JSON object"))
    key = (_scope_key(params), params.text("language_code", "") or "")
    if commands:
        ctx.world.commands[key] = commands
    else:
        ctx.world.commands.pop(key, None)
    return True


async def get_my_commands(ctx: Context, params: Params) -> list[JsonDict]:
    key = (_scope_key(params), params.text("language_code", "") or "")
    return ctx.world.commands.get(key, [])


async def delete_my_commands(ctx: Context, params: Params) -> bool:
    ctx.world.commands.pop((_scope_key(params), params.text("language_code", "") or ""), None)
    return True


def _profile_setter(field: str) -> Handler:
    async def handler(ctx: Context, params: Params) -> bool:
        language = params.text("language_code", "") or ""
        ctx.world.profile[(field, language)] = params.text(field, "") or ""
        return True

    return handler


def _profile_getter(field: str) -> Handler:
    async def handler(ctx: Context, params: Params) -> JsonDict:
        language = params.text("language_code", "") or ""
        default = ctx.world.bot.first_name if field == "name" else ""
        return {field: ctx.world.profile.get((field, language), default)}

    return handler


async def accept(ctx: Context, params: Params) -> bool:
    """Settings that change nothing a test can observe: accepted, as Telegram would."""
    return True


async def get_chat_menu_button(ctx: Context, params: Params) -> JsonDict:
    return webapp.menu_button_of(ctx.world, params)


async def set_chat_menu_button(ctx: Context, params: Params) -> bool:
    webapp.set_menu_button(ctx.world, params)
    return True


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "leaveChat": leave_chat,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setMyName": _profile_setter("name"),
    "getMyName": _profile_getter("name"),
    "setMyDescription": _profile_setter("description"),
    "getMyDescription": _profile_getter("description"),
    "setMyShortDescription": _profile_setter("short_description"),
    "getMyShortDescription": _profile_getter("short_description"),
    "getChatMenuButton": get_chat_menu_button,
    "setChatMenuButton": set_chat_menu_button,
    "setMyDefaultAdministratorRights": accept,
    "sendChatAction": accept,
    "pinChatMessage": accept,
    "unpinChatMessage": accept,
}
