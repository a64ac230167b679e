"""The emulator's web application and its command line.

Besides the Bot API it serves a small control API under /sandbox/ so a person (or the demo)
can play the users' side with curl:

    POST /sandbox/users                      {"first_name": "Ivan", "username": "ivan"}
    POST /sandbox/groups                     {"title": "Shop staff", "member_ids": [...]}
    POST /sandbox/send                       {"user_id": ..., "text": "/start", "chat_id"?: ...}
    POST /sandbox/tap                        {"user_id": ..., "message_id": ..., "text"|"data"}
    POST /sandbox/block                      {"user_id": ...}
    POST /sandbox/pay                        {"user_id": ..., "message_id": ..., "chat_id"?: ...}
    GET  /sandbox/                           users and chats
    GET  /sandbox/chats/{chat_id}            the chat's messages as JSON
    GET  /sandbox/chats/{chat_id}/transcript the chat as text
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.limits import FloodLimits
from bot.sandbox.rules import MAX_UPLOAD
from bot.sandbox.state import SandboxError, SandboxMessage, SandboxUser

if TYPE_CHECKING:
    from bot.sandbox.emulator import TelegramEmulator

JsonDict = dict[str, Any]
DEFAULT_PORT = 8081
ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(emulator: TelegramEmulator) -> web.Application:
    # Uploads up to Telegram's 50 MB must reach the handler to be refused politely.
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app.add_routes(emulator.api.routes())
    app.add_routes(ControlApi(emulator).routes())
    return app


def _guarded(handler: ControlHandler) -> ControlHandler:
    """Mistakes in a control request answer 400 with a sentence, not a traceback."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (SandboxError, KeyError, TypeError, ValueError) as error:
            text = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            return web.json_response({"error": text}, status=400)

    return wrapper


class ControlApi:
    def __init__(self, emulator: TelegramEmulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sandbox/", _guarded(self.overview)),
            web.get("/sandbox", _guarded(self.overview)),
            web.post("/sandbox/users", _guarded(self.create_user)),
            web.post("/sandbox/groups", _guarded(self.create_group)),
            web.post("/sandbox/send", _guarded(self.send)),
            web.post("/sandbox/tap", _guarded(self.tap)),
            web.post("/sandbox/block", _guarded(self.block)),
            web.post("/sandbox/contact", _guarded(self.contact)),
            web.post("/sandbox/pay", _guarded(self.pay)),
            web.post("/sandbox/webapp", _guarded(self.web_app)),
            web.get("/sandbox/chats/{chat_id}", _guarded(self.chat)),
            web.get("/sandbox/chats/{chat_id}/transcript", _guarded(self.transcript)),
        ]

    def _user(self, body: JsonDict) -> SandboxUser:
        user = self.emulator.world.users.get(int(body["user_id"]))
        if user is None:
            raise SandboxError(f"no user {body['user_id']}: create one with POST /sandbox/users")
        return user

    async def overview(self, request: web.Request) -> web.Response:
        world = self.emulator.world
        chats = [
            {**chat.to_api(), "messages": len(chat.messages), "bot_status": chat.bot_status}
            for chat in world.chats.values()
        ]
        users = [user.to_api() for user in world.users.values()]
        return web.json_response({"bot": world.bot.to_api(), "users": users, "chats": chats})

    async def create_user(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.emulator.user(
            body["first_name"],
            username=body.get("username"),
            language_code=body.get("language_code", "ru"),
            phone_number=body.get("phone_number"),
        )
        return web.json_response(user.to_api(), status=201)

    async def create_group(self, request: web.Request) -> web.Response:
        body = await request.json()
        members = [self._user({"user_id": user_id}) for user_id in body["member_ids"]]
        group = self.emulator.group(
            body["title"], *members, supergroup=bool(body.get("supergroup"))
        )
        if body.get("add_bot", True):
            self.emulator.add_bot_to_group(group, members[0])
        return web.json_response(group.to_api(), status=201)

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self._user(body)
        chat = self.emulator.chat(int(body["chat_id"])) if body.get("chat_id") else None
        target = chat or self.emulator.chat(user)
        reply_to = (
            target.find(int(body["reply_to_message_id"]))
            if body.get("reply_to_message_id")
            else None
        )
        message = self.emulator.send(user, body["text"], chat=chat, reply_to=reply_to)
        return web.json_response(message_view(message), status=201)

    async def contact(self, request: web.Request) -> web.Response:
        """The user's own contact through the "share contact" button (no `phone_number`
        given), or any contact from the attachment menu."""
        body = await request.json()
        user = self._user(body)
        if body.get("phone_number"):
            message = self.emulator.send_contact(
                user,
                str(body["phone_number"]),
                str(body.get("first_name") or user.first_name),
                user_id=int(body["contact_user_id"]) if body.get("contact_user_id") else None,
            )
        else:
            message = self.emulator.share_contact(user)
        return web.json_response(message_view(message), status=201)

    async def tap(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self._user(body)
        chat = self.emulator.chat(int(body.get("chat_id") or user.id))
        message = chat.find(int(body["message_id"]))
        if message is None:
            raise SandboxError(f"no message {body['message_id']} in {chat.name}")
        query = self.emulator.tap(user, message, text=body.get("text"), data=body.get("data"))
        return web.json_response({"callback_query_id": query.id, "data": query.data}, status=201)

    async def block(self, request: web.Request) -> web.Response:
        user = self._user(await request.json())
        self.emulator.block(user)
        return web.json_response({"blocked": user.id})

    async def pay(self, request: web.Request) -> web.Response:
        """The user pays an invoice; answers once the bot accepted, refused or let it time out."""
        body = await request.json()
        user = self._user(body)
        chat = self.emulator.chat(int(body.get("chat_id") or user.id))
        message = chat.find(int(body["message_id"]))
        if message is None:
            raise SandboxError(f"no message {body['message_id']} in {chat.name}")
        order_info = body.get("order_info")
        if order_info is not None and not isinstance(order_info, dict):
            raise SandboxError("order_info is an object: name, phone_number, email, ...")
        result = await self.emulator.pay(user, message, order_info=order_info)
        answer: JsonDict = {
            "status": result.status,
            "pre_checkout_query_id": result.pre_checkout_query_id,
        }
        if result.message is not None:
            answer["message"] = message_view(result.message)
        if result.error_message is not None:
            answer["error_message"] = result.error_message
        return web.json_response(answer)

    async def web_app(self, request: web.Request) -> web.Response:
        """The user opens a Mini App: a web_app button of a message, or their menu button."""
        from bot.sandbox.webapp import open_web_app

        body = await request.json()
        user = self._user(body)
        message = None
        if body.get("message_id"):
            chat = self.emulator.chat(int(body.get("chat_id") or user.id))
            message = chat.find(int(body["message_id"]))
            if message is None:
                raise SandboxError(f"no message {body['message_id']} in {chat.name}")
        opened = open_web_app(self.emulator.world, user, message, text=body.get("text"))
        return web.json_response({"url": opened.url, "init_data": opened.init_data})

    async def chat(self, request: web.Request) -> web.Response:
        chat = self.emulator.chat(int(request.match_info["chat_id"]))
        messages = [message_view(message) for message in chat.messages]
        return web.json_response({"chat": chat.to_api(), "messages": messages})

    async def transcript(self, request: web.Request) -> web.Response:
        text = self.emulator.transcript(int(request.match_info["chat_id"]))
        return web.Response(text=text + "\n" if text else "", content_type="text/plain")


def message_view(message: SandboxMessage) -> JsonDict:
    """A message as the Bot API shows it, plus what only the emulator knows."""
    view = message.to_api()
    view["outgoing"] = message.outgoing
    view["deleted"] = message.deleted
    return view


async def serve_forever(host: str, port: int, *, flood_limits: bool = True) -> None:
    """Run the emulator until cancelled (Ctrl+C): what `python -m bot emulator` does."""
    from bot.sandbox.emulator import TelegramEmulator

    emulator = TelegramEmulator(flood=FloodLimits() if flood_limits else FloodLimits.off())
    await emulator.serve(host, port)
    print(f"Telegram Bot API emulator on {emulator.url}", flush=True)
    print(f"  point the bot at it:  TELEGRAM_API_URL={emulator.url} python -m bot run")
    print(f"  play a user:          curl {emulator.url}/sandbox/  (see docs/emulator.md)")
    print(f"  flood limits:         {'on' if flood_limits else 'off'}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signal_number, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()
        print("emulator stopped", flush=True)


def run(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, flood_limits: bool = True) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(host, port, flood_limits=flood_limits))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, for `python -m bot emulator` and `python -m bot.sandbox`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--no-flood-limits",
        dest="flood_limits",
        action="store_false",
        help="do not answer 429 when the bot sends faster than Telegram allows",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox", description="A local Telegram Bot API emulator"
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args.host, args.port, flood_limits=args.flood_limits)
