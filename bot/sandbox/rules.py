"""Telegram's rules on what a bot may send: lengths, keyboards, commands.

Each check raises the ApiError Telegram would answer, with its exact description.
"""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox import errors
from bot.sandbox.errors import bad_request
from bot.sandbox.formatting import utf16_len

MAX_TEXT = 4096  # UTF-16 code units of the text after parsing its markup
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes, not characters: Cyrillic takes two each
MAX_CALLBACK_ANSWER = 200
MAX_BUTTONS = 100
MAX_COMMANDS = 100
MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may upload
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile lets a bot download

# An inline button does exactly one thing: the optional field saying what.
BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
EMPTY_ALLOWED = frozenset({"switch_inline_query", "switch_inline_query_current_chat"})
URL_SCHEMES = ("http://", "https://", "tg://")
BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def check_text(text: str, *, editing: bool = False) -> None:
    if not text.strip():
        raise bad_request(errors.TEXT_EMPTY)
    if utf16_len(text) > MAX_TEXT:
        raise bad_request(errors.EDIT_TEXT_TOO_LONG if editing else errors.TEXT_TOO_LONG)


def check_caption(caption: str | None) -> None:
    if caption is not None and utf16_len(caption) > MAX_CAPTION:
        raise bad_request(errors.CAPTION_TOO_LONG)


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """The markup as stored (None if absent); raises on what Telegram refuses."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_rows(markup["inline_keyboard"])}
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" must be an Array of Arrays')
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            _check_button(button)
    return rows


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not button["text"].strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    # An empty switch_inline_query(_current_chat) is Telegram's "just @bot": still an action.
    actions = [
        name
        for name in BUTTON_ACTIONS
        if button.get(name) is not None and (name in EMPTY_ALLOWED or button[name] != "")
    ]
    if "callback_data" in button and "callback_data" not in actions:
        raise bad_request(errors.BUTTON_DATA_INVALID)  # an empty callback_data
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
    ):
        raise bad_request(errors.BUTTON_DATA_INVALID)
    web_app = button.get("web_app")
    if web_app is not None:
        from bot.sandbox.webapp import check_web_app_url

        if not isinstance(web_app, dict):
            raise bad_request("can't parse inline keyboard button: WebAppInfo must be an Object")
        check_web_app_url(web_app.get("url"), "inline keyboard button")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(URL_SCHEMES)):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def check_commands(commands: Any) -> list[dict[str, str]]:
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise bad_request("can't parse commands JSON object")
    checked: list[dict[str, str]] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name, description = command.get("command"), command.get("description")
        if not isinstance(name, str) or not BOT_COMMAND.fullmatch(name.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise bad_request("command description must be non-empty")
        checked.append({"command": name.removeprefix("/"), "description": description})
    return checked


def callback_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every inline button of a message's markup, row by row."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]
