"""Mini Apps in the emulator: the menu button, web_app buttons, and opening a Mini App as a
user would, with initData signed the way Telegram signs it.

Telegram's rules as the Bot API documents them (core.telegram.org/bots/api#menubutton,
#inlinekeyboardbutton, core.telegram.org/bots/webapps):
- `setChatMenuButton(chat_id?, menu_button?)`: a MenuButton object of type `commands`,
  `web_app` (with `text` and `web_app.url`) or `default`; without chat_id it is the default
  for every private chat; without menu_button it resets to the default.
- An inline `web_app` button is "available only in private chats between a user and the
  bot": elsewhere Telegram answers `400 Bad Request: BUTTON_TYPE_INVALID`.
- A Web App URL must be HTTPS. Unlike Telegram, the emulator also takes http:// on loopback
  (127.0.0.1, localhost), for a bot run on one's own machine, as it does for webhooks.
- Opening a Mini App: Telegram passes `tgWebAppData` (the initData query string: `auth_date`,
  `query_id`, `user` as JSON, `hash` = hex HMAC-SHA256 of the sorted `key=value` lines under
  the key HMAC-SHA256("WebAppData", bot token)), `tgWebAppVersion`, `tgWebAppPlatform` and
  `tgWebAppThemeParams` in the URL fragment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from bot.sandbox.errors import bad_request
from bot.sandbox.params import Params
from bot.sandbox.rules import callback_buttons
from bot.sandbox.state import SandboxChat, SandboxError, SandboxMessage, SandboxUser, World

JsonDict = dict[str, Any]

MENU_TYPES = ("commands", "web_app", "default")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WEB_APP_VERSION = "8.0"
# What a light Telegram theme passes as themeParams (the keys Telegram documents).
THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}


def check_web_app_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url:
        raise bad_request(f"{where} Web App URL is empty")
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    raise bad_request(f"{where} Web App URL '{url}' is invalid: Only HTTPS links are allowed")


def check_web_app_buttons(markup: JsonDict | None, chat: SandboxChat) -> None:
    if chat.is_private:
        return
    if any("web_app" in button for button in callback_buttons(markup)):
        raise bad_request("BUTTON_TYPE_INVALID")


def _chat_key(world: World, params: Params) -> int | None:
    chat_id = params.integer("chat_id")
    if chat_id is None:
        return None
    chat = world.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    if not chat.is_private:
        raise bad_request("the menu button can be set only in private chats")
    return chat_id


def set_menu_button(world: World, params: Params) -> None:
    key = _chat_key(world, params)
    button = params.json_value(
        "menu_button", "can't parse menu button: MenuButton must be an Object"
    )
    if button is None:
        world.menu_buttons.pop(key, None)
        return
    if not isinstance(button, dict) or button.get("type") not in MENU_TYPES:
        raise bad_request("can't parse menu button: MenuButton must be an Object")
    if button["type"] == "web_app":
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("can't parse menu button: text must be non-empty")
        info = button.get("web_app")
        if not isinstance(info, dict):
            raise bad_request("can't parse menu button: WebAppInfo must be an Object")
        check_web_app_url(info.get("url"), "menu button")
        button = {"type": "web_app", "text": text, "web_app": {"url": info["url"]}}
    else:
        button = {"type": button["type"]}
    if button["type"] == "default":
        world.menu_buttons.pop(key, None)
    else:
        world.menu_buttons[key] = button


def menu_button_of(world: World, params: Params) -> JsonDict:
    key = _chat_key(world, params)
    if key is not None and key in world.menu_buttons:
        return world.menu_buttons[key]
    return world.menu_buttons.get(None, {"type": "default"})


@dataclass(frozen=True)
class WebAppLaunch:
    """What a Telegram client opens: the URL with the launch parameters in its fragment."""

    url: str  # the Mini App's URL + "#tgWebAppData=..."
    init_data: str  # what the Mini App sends its server in `Authorization: tma ...`


def sign_init_data(token: str, fields: dict[str, str]) -> str:
    """The initData query string with its `hash`, as Telegram makes it."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    signed = {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}
    return urlencode(signed, quote_via=quote)


def launch(
    world: World, user: SandboxUser, url: str, *, auth_date: int | None = None
) -> WebAppLaunch:
    if not world.bot_token:
        raise SandboxError("the bot has not called the emulator yet: its token is not known")
    profile = {"id": user.id, "first_name": user.first_name}
    for name in ("last_name", "username", "language_code"):
        if getattr(user, name, None):
            profile[name] = getattr(user, name)
    profile["allows_write_to_pm"] = True
    fields = {
        "auth_date": str(auth_date if auth_date is not None else world.now()),
        "query_id": "AA" + secrets.token_urlsafe(12),
        "user": json.dumps(profile, ensure_ascii=False, separators=(",", ":")),
    }
    init_data = sign_init_data(world.bot_token, fields)
    fragment = urlencode(
        {
            "tgWebAppData": init_data,
            "tgWebAppVersion": WEB_APP_VERSION,
            "tgWebAppPlatform": "sandbox",
            "tgWebAppThemeParams": json.dumps(THEME, separators=(",", ":")),
        },
        quote_via=quote,
    )
    return WebAppLaunch(f"{url.split('#')[0]}#{fragment}", init_data)


def open_web_app(
    world: World,
    user: SandboxUser,
    message: SandboxMessage | None = None,
    *,
    text: str | None = None,
) -> WebAppLaunch:
    """The user taps a web_app button of `message` (by its text), or, with no message, the
    menu button of their chat with the bot."""
    if message is None:
        chat = world.private_chat(user)
        button = world.menu_buttons.get(chat.id) or world.menu_buttons.get(None)
        if not button or button.get("type") != "web_app":
            raise SandboxError(f"{user.first_name}'s menu button opens no Mini App")
        return launch(world, user, button["web_app"]["url"])
    apps = [b for b in callback_buttons(message.reply_markup) if "web_app" in b]
    if text is not None:
        apps = [b for b in apps if b["text"] == text]
    if not apps:
        shown = [b["text"] for b in callback_buttons(message.reply_markup)]
        raise SandboxError(f"no web_app button {text!r} on message {message.message_id}: {shown}")
    return launch(world, user, apps[0]["web_app"]["url"])
