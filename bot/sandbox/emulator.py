"""`TelegramEmulator`: the in-process handle tests and the demo drive the emulator with.

    async with TelegramEmulator() as telegram:           # serves on 127.0.0.1, a free port
        bot = Bot("123456:TEST", session=telegram.session())
        ivan = telegram.user("Ivan")
        telegram.start_bot(ivan, "order-42")              # Ivan opens t.me/bot?start=order-42
        await telegram.wait_processed()                   # the bot handled it
        telegram.tap(ivan, telegram.last(ivan), text="Confirm")

User actions are plain calls that store the message and queue the update; reading is plain
too; only waiting for the bot is awaited, and it never sleeps on a timer.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, overload

import aiohttp
from aiohttp import web

from bot.sandbox.api import BotApi
from bot.sandbox.checkout import PRE_CHECKOUT_TIMEOUT, Checkout, CheckoutResult, Sleep
from bot.sandbox.contacts import ContactActions
from bot.sandbox.formatting import command_entities, utf16_len
from bot.sandbox.limits import FloodControl, FloodLimits
from bot.sandbox.methods import Context
from bot.sandbox.methods.chats import chat_member_update
from bot.sandbox.methods.media import image_size
from bot.sandbox.rules import callback_buttons
from bot.sandbox.server import build_app
from bot.sandbox.state import (
    CallbackAnswer,
    Clock,
    SandboxCallbackQuery,
    SandboxChat,
    SandboxError,
    SandboxInlineQuery,
    SandboxMessage,
    SandboxTap,
    SandboxUser,
    StoredFile,
    SystemClock,
    World,
)
from bot.sandbox.transcript import button_rows, render_chat
from bot.sandbox.waiting import no_message, not_processed
from bot.sandbox.webhook import RETRY_DELAYS, WebhookDelivery

if TYPE_CHECKING:
    from aiogram.client.session.aiohttp import AiohttpSession

ChatOrUser = SandboxChat | SandboxUser
MENTION = re.compile(r"@[A-Za-z0-9_]{5,32}")
FIRST_CALLBACK_ID = 4_000_000_000_000_000_000


class EmulatorTimeout(TimeoutError):
    """What a test waited for did not happen in time; the message says what is missing."""


class TelegramEmulator(ContactActions):
    def __init__(
        self,
        *,
        flood: FloodLimits | None = None,
        clock: Clock | None = None,
        bot_name: str = "ShopBot",
        bot_username: str = "shopbot_sandbox_bot",
        bot_id: int | None = None,
        privacy_mode: bool = True,
        webhook_retry_delays: Sequence[float] = RETRY_DELAYS,
        pre_checkout_timeout: float = PRE_CHECKOUT_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`clock` moves message dates and the flood buckets together (default: real time).

        `privacy_mode` is Telegram's default for bots: in groups the bot gets only commands,
        replies to its messages and mentions of it, unless it is an administrator.
        `sleep` waits out Telegram's time limits (the pre-checkout answer's); tests give their own.
        """
        self.clock = clock or SystemClock()
        monotonic: Callable[[], float] = (
            time.monotonic if clock is None else lambda: self.clock.now().timestamp()
        )
        self.world = World(self.clock, bot_name=bot_name, bot_username=bot_username)
        self.flood = FloodControl(flood, monotonic)
        self.context = Context(self.world, self.flood)
        self.api = BotApi(self.context, bot_id=bot_id)
        self.webhooks = WebhookDelivery(self.world, self.api.call, webhook_retry_delays)
        self.checkout = Checkout(self.world, timeout=pre_checkout_timeout, sleep=sleep)
        self.privacy_mode = privacy_mode
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._url: str | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @overload
    def start(self, user: SandboxUser, payload: str | None = None) -> SandboxMessage: ...

    @overload
    def start(self, host: str = "127.0.0.1", port: int = 0) -> Coroutine[Any, Any, Self]: ...

    def start(self, *args: Any, **kwargs: Any) -> Any:
        """Two things under one name, as the emulator's contract has it:

        `await emulator.start(host="127.0.0.1", port=0)` serves it (same as `serve`);
        `emulator.start(user, payload=None)` is the user pressing Start (same as `start_bot`).
        """
        first = args[0] if args else kwargs.get("user")
        if isinstance(first, SandboxUser):
            return self.start_bot(*args, **kwargs)
        return self.serve(*args, **kwargs)

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Serve the Bot API (and the /sandbox/ control API); port 0 picks a free port."""
        if self._runner is not None:
            raise SandboxError(f"the emulator is already serving on {self._url}")
        self.world.closing = False
        self._http = aiohttp.ClientSession()
        self.context.http = self._http
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=1.0)
        try:
            await self._runner.setup()
            await web.TCPSite(self._runner, host, port).start()
        except BaseException:
            await self.stop()  # e.g. the port is taken: leave nothing open behind
            raise
        bound_port = self._runner.addresses[0][1]
        # Listening on every interface: clients on this machine still reach it on loopback.
        reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._url = f"http://{reachable}:{bound_port}"
        self.webhooks.start(self._http)
        return self

    async def stop(self) -> None:
        self.world.closing = True
        self.world.notify()  # long polls answer at once instead of waiting out their timeout
        await self.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> Self:
        return await self.serve()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL for TELEGRAM_API_URL / `TelegramAPIServer.from_base`."""
        if self._url is None:
            raise SandboxError("the emulator is not serving: await emulator.start() first")
        return self._url

    def session(self) -> AiohttpSession:
        """An aiogram session pointed at this emulator: `Bot(token, session=...)`."""
        from bot.sandbox.client import sandbox_session

        return sandbox_session(self.url)

    # --- people and chats -----------------------------------------------------------------------
    @property
    def bot(self) -> SandboxUser:
        return self.world.bot

    def user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = "ru",
        last_name: str | None = None,
        phone_number: str | None = None,
    ) -> SandboxUser:
        return self.world.add_user(
            first_name,
            username=username,
            language_code=language_code,
            last_name=last_name,
            phone_number=phone_number,
        )

    def group(self, title: str, *members: SandboxUser, supergroup: bool = False) -> SandboxChat:
        """A group of these users (the first one is its creator); the bot is not in it yet."""
        if not members:
            raise SandboxError("a group needs at least one member, its creator")
        return self.world.add_group(title, members, supergroup=supergroup)

    def add_bot_to_group(
        self, group: SandboxChat, by_user: SandboxUser, *, as_admin: bool = False
    ) -> SandboxMessage:
        """`by_user` adds the bot: a my_chat_member update, then the "new member" message."""
        self._check_member(group, by_user)
        old, new = group.bot_status, "administrator" if as_admin else "member"
        group.bot_status = new
        self.world.push_update(
            "my_chat_member", chat_member_update(self.world, group, by_user, old, new)
        )
        message = self.world.add_message(
            group, by_user, outgoing=False, new_chat_members=[self.world.bot]
        )
        self._deliver(message)
        return message

    def remove_bot_from_group(self, group: SandboxChat, by_user: SandboxUser) -> None:
        self._check_member(group, by_user)
        old, group.bot_status = group.bot_status, "kicked"
        self.world.push_update(
            "my_chat_member", chat_member_update(self.world, group, by_user, old, "kicked")
        )
        self.world.add_message(group, by_user, outgoing=False, left_chat_member=self.world.bot)

    def block(self, user: SandboxUser) -> None:
        """The user blocks the bot: sending to them now fails with 403."""
        if user.blocked:
            return
        user.blocked = True
        if user.started:
            chat = self.world.private_chat(user)
            update = chat_member_update(self.world, chat, user, "member", "kicked")
            self.world.push_update("my_chat_member", update)

    def unblock(self, user: SandboxUser) -> None:
        if not user.blocked:
            return
        user.blocked = False
        if user.started:
            chat = self.world.private_chat(user)
            update = chat_member_update(self.world, chat, user, "kicked", "member")
            self.world.push_update("my_chat_member", update)

    # --- what users do --------------------------------------------------------------------------
    def send(
        self,
        user: SandboxUser,
        text: str,
        *,
        chat: SandboxChat | None = None,
        reply_to: SandboxMessage | None = None,
    ) -> SandboxMessage:
        """The user writes `text` (to the bot's private chat unless `chat` is given)."""
        target = self._chat_to_write(user, chat)
        message = self.world.add_message(
            target,
            user,
            outgoing=False,
            text=text,
            entities=self._entities(text),
            reply_to=self._reply_target(target, reply_to),
        )
        self._deliver(message)
        return message

    def start_bot(self, user: SandboxUser, payload: str | None = None) -> SandboxMessage:
        """The user presses Start, through a deep link t.me/<bot>?start=<payload> if given."""
        return self.send(user, f"/start {payload}" if payload else "/start")

    def send_document(
        self,
        user: SandboxUser,
        name: str,
        content: bytes,
        mime: str | None = None,
        *,
        caption: str | None = None,
        chat: SandboxChat | None = None,
        reply_to: SandboxMessage | None = None,
    ) -> SandboxMessage:
        target = self._chat_to_write(user, chat)
        mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = self.world.store_file(content, name=name, mime=mime, kind="document")
        return self._send_file(user, target, caption, reply_to, document=stored)

    def send_photo(
        self,
        user: SandboxUser,
        content: bytes,
        *,
        caption: str | None = None,
        chat: SandboxChat | None = None,
        reply_to: SandboxMessage | None = None,
    ) -> SandboxMessage:
        target = self._chat_to_write(user, chat)
        width, height = image_size(content) or (1, 1)
        stored = self.world.store_file(
            content, name=None, mime=None, kind="photo", width=width, height=height
        )
        return self._send_file(user, target, caption, reply_to, photo=stored)

    def tap(
        self,
        user: SandboxUser,
        message: SandboxMessage,
        *,
        text: str | None = None,
        data: str | None = None,
    ) -> SandboxCallbackQuery:
        """The user taps the inline button with this visible text and/or callback_data."""
        if text is None and data is None:
            raise SandboxError("tap() needs the button's text= or data=")
        self._check_can_see(user, message)
        for button in callback_buttons(message.reply_markup):
            if text is not None and button["text"] != text:
                continue
            if data is not None and button.get("callback_data") != data:
                continue
            if "callback_data" not in button:
                raise SandboxError(
                    f"button [{button['text']}] sends no callback (not a data button)"
                )
            return self._callback(user, message, button["callback_data"], button["text"])
        shown = " ".join(f"[{label}]" for row in button_rows(message) for label in row)
        wanted = f"text={text!r}" if text is not None else f"data={data!r}"
        raise SandboxError(
            f"no button with {wanted} on message #{message.message_id} in {message.chat.name}; "
            f"its buttons: {shown or 'none'}"
        )

    def inline_query(
        self, user: SandboxUser, query: str, *, chat: SandboxChat | None = None
    ) -> SandboxInlineQuery:
        """The user types `@bot query` in a chat (what a switch_inline_query_current_chat
        button starts); the bot's answer lands in `.results` (await `wait_processed`)."""
        target = self._chat_to_write(user, chat)
        query_id = str(FIRST_CALLBACK_ID + self.world.next_id("inline"))
        inline = SandboxInlineQuery(query_id, user, query, target)
        self.world.inline_queries[query_id] = inline
        self.world.push_update("inline_query", inline.to_api)
        return inline

    def choose_inline(
        self, user: SandboxUser, inline: SandboxInlineQuery, *, title: str
    ) -> SandboxMessage:
        """The user taps the result titled `title`: its message is sent, `via_bot` the bot."""
        for result in inline.results or []:
            if result.get("title") != title:
                continue
            content = result.get("input_message_content") or {}
            text = content.get("message_text")
            if not text:
                raise SandboxError(f"the result {title!r} sends no text message")
            message = self.world.add_message(
                inline.chat, user, outgoing=False, text=text, entities=None
            )
            message.via_bot = self.world.bot
            self._deliver(message)
            return message
        shown = ", ".join(repr(r.get("title")) for r in inline.results or [])
        raise SandboxError(f"no inline result titled {title!r}; the results: {shown or 'none'}")

    def forged_tap(
        self, user: SandboxUser, message: SandboxMessage, data: str
    ) -> SandboxCallbackQuery:
        """A callback with any data, as a modified client could send (for security tests)."""
        self._check_can_see(user, message)
        return self._callback(user, message, data)

    async def pay(
        self,
        user: SandboxUser,
        invoice: SandboxMessage,
        *,
        order_info: dict[str, Any] | None = None,
    ) -> CheckoutResult:
        """The user pays an invoice message; returns once the bot accepted, refused or timed out."""
        self._check_can_see(user, invoice)
        return await self.checkout.pay(user, invoice, order_info=order_info)

    def inject_flood(self, count: int, retry_after: int = 1) -> None:
        """The next `count` message-sending calls fail with 429 and this retry_after."""
        self.flood.inject(count, retry_after)

    # --- reading --------------------------------------------------------------------------------
    def chat(self, chat_or_user: ChatOrUser | int) -> SandboxChat:
        """A chat by object or id; for a user, their private chat with the bot."""
        if isinstance(chat_or_user, SandboxChat):
            return chat_or_user
        if isinstance(chat_or_user, SandboxUser):
            return self.world.private_chat(chat_or_user)
        chat = self.world.chats.get(chat_or_user)
        if chat is None:
            user = self.world.users.get(chat_or_user)
            if user is None:
                raise SandboxError(f"no chat {chat_or_user}")
            chat = self.world.private_chat(user)
        return chat

    def messages(self, chat_or_user: ChatOrUser | int) -> list[SandboxMessage]:
        """Every message of the chat in order, deleted ones included (flagged `deleted`)."""
        return list(self.chat(chat_or_user).messages)

    def last(self, chat_or_user: ChatOrUser | int) -> SandboxMessage:
        """The bot's latest message (not deleted) in the chat."""
        chat = self.chat(chat_or_user)
        for message in reversed(chat.messages):
            if message.outgoing and not message.deleted:
                return message
        raise SandboxError(f"the bot has sent nothing to {chat.name}")

    def buttons(self, message: SandboxMessage) -> list[list[str]]:
        return button_rows(message)

    def keyboard(self, chat_or_user: ChatOrUser | int) -> list[list[str]]:
        """The custom (reply) keyboard the bot shows in the chat now, as button texts."""
        markup = self.chat(chat_or_user).reply_keyboard or {}
        return [
            [button if isinstance(button, str) else button.get("text", "") for button in row]
            for row in markup.get("keyboard", [])
        ]

    def callback_answer(self, query: SandboxCallbackQuery | str) -> CallbackAnswer | None:
        """How the bot answered the callback query (None while it has not)."""
        query_id = query.id if isinstance(query, SandboxCallbackQuery) else query
        known = self.world.callbacks.get(query_id)
        if known is None:
            raise SandboxError(f"no callback query {query_id}")
        return known.answer

    @property
    def files(self) -> dict[str, StoredFile]:
        return self.world.files

    @property
    def commands(self) -> dict[tuple[str, str], list[dict[str, str]]]:
        """setMyCommands results by (scope as canonical JSON, language code)."""
        return self.world.commands

    def command_list(
        self, scope: str = "default", language_code: str = "", **scope_fields: Any
    ) -> list[tuple[str, str]]:
        """(command, description) pairs set for a scope, e.g. command_list("chat", chat_id=1)."""
        key = json.dumps({"type": scope, **scope_fields}, sort_keys=True)
        entries = self.world.commands.get((key, language_code), [])
        return [(entry["command"], entry["description"]) for entry in entries]

    def menu_of(self, user: SandboxUser) -> list[str]:
        """The commands `user` sees in the "/" menu of their private chat with the bot, as
        Telegram picks them: their chat's scope, then all private chats, then the default,
        each first for their app's language, then the list set without a language."""
        language = user.language_code or ""
        for scope in ({"type": "chat", "chat_id": user.id}, {"type": "all_private_chats"}):
            key = json.dumps(scope, sort_keys=True)
            for code in (language, ""):
                if (key, code) in self.world.commands:
                    return [entry["command"] for entry in self.world.commands[(key, code)]]
        default = json.dumps({"type": "default"}, sort_keys=True)
        for code in (language, ""):
            if (default, code) in self.world.commands:
                return [entry["command"] for entry in self.world.commands[(default, code)]]
        return []

    def profile_text(self, field: str, language_code: str = "") -> str:
        """What setMyDescription/setMyShortDescription/setMyName set for a language."""
        return self.world.profile.get((field, language_code), "")

    def transcript(
        self, chat_or_user: ChatOrUser | int, tz: tzinfo = UTC, *, taps: bool = False
    ) -> str:
        """The chat as readable text (times in `tz`, UTC by default); with `taps`, also the
        buttons people tapped ("▶ Max taps «Confirm»") and the time passing between."""
        return render_chat(self.chat(chat_or_user), tz, taps=taps)

    @property
    def pending_updates(self) -> list[int]:
        """Ids of updates the bot has not confirmed yet."""
        return [update.update_id for update in self.world.pending]

    # --- waiting --------------------------------------------------------------------------------
    # A deadline argument (not asyncio.timeout) so the error can say what was still missing.
    async def wait_processed(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until every update injected so far was confirmed by the bot.

        A polling bot confirms an update by asking getUpdates with a later offset; with
        `handle_as_tasks=False` aiogram does that only after handling it. A webhook confirms by
        answering 2xx.
        """
        target = self.world.last_update_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.world.processed_upto() < target:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(not_processed(self.world, target, timeout))
            await self.world.wait_change(remaining)

    async def wait_polling(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a getUpdates call is waiting here (the bot's polling loop is running)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.context.waiting_polls == 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(f"no getUpdates call arrived within {timeout} s")
            await self.world.wait_change(remaining)

    async def wait_for_message(
        self,
        chat_or_user: ChatOrUser | int,
        predicate: Callable[[SandboxMessage], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        after: SandboxMessage | None = None,
    ) -> SandboxMessage:
        """The first bot message in the chat after `after` that matches `predicate`.

        `after` defaults to the user's latest message there: "the bot's answer to what the user
        just did", whether it has arrived already or not.
        """
        chat = self.chat(chat_or_user)
        start = after.message_id if after is not None else self._last_incoming_id(chat)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in chat.messages[start:]:
                if message.outgoing and not message.deleted:
                    if predicate is None or predicate(message):
                        return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(no_message(chat, start, timeout, predicate))
            await self.world.wait_change(remaining)

    # --- helpers --------------------------------------------------------------------------------
    def _chat_to_write(self, user: SandboxUser, chat: SandboxChat | None) -> SandboxChat:
        if chat is None:
            if user.blocked:
                self.unblock(user)  # writing to a blocked bot means pressing "Restart" first
            user.started = True
            return self.world.private_chat(user)
        self._check_member(chat, user)
        return chat

    def _check_member(self, chat: SandboxChat, user: SandboxUser) -> None:
        if chat.is_private:
            if chat.peer is not user:
                raise SandboxError(f"{user.first_name} is not in {chat.name}'s private chat")
        elif chat.members.get(user.id, "left") in ("left", "kicked"):
            raise SandboxError(f"{user.first_name} is not a member of {chat.name}")

    def _check_can_see(self, user: SandboxUser, message: SandboxMessage) -> None:
        self._check_member(message.chat, user)
        if message.deleted:
            raise SandboxError(f"message #{message.message_id} was deleted")

    def _reply_target(
        self, chat: SandboxChat, reply_to: SandboxMessage | None
    ) -> SandboxMessage | None:
        if reply_to is not None and reply_to.chat is not chat:
            raise SandboxError("reply_to must be a message of the same chat")
        return reply_to

    def _entities(self, text: str) -> list[dict[str, Any]] | None:
        """Entities Telegram's clients add: a leading /command and @mentions."""
        entities = list(command_entities(text) or [])
        for match in MENTION.finditer(text):
            offset = utf16_len(text[: match.start()])
            entities.append(
                {"type": "mention", "offset": offset, "length": utf16_len(match.group())}
            )
        return entities or None

    def _send_file(
        self,
        user: SandboxUser,
        chat: SandboxChat,
        caption: str | None,
        reply_to: SandboxMessage | None,
        **media: StoredFile,
    ) -> SandboxMessage:
        message = self.world.add_message(
            chat,
            user,
            outgoing=False,
            caption=caption,
            caption_entities=self._entities(caption) if caption else None,
            reply_to=self._reply_target(chat, reply_to),
            **media,
        )
        self._deliver(message)
        return message

    def _deliver(self, message: SandboxMessage) -> None:
        """Queue the "message" update if the bot may see the message."""
        if self._bot_sees(message):
            self.world.push_update("message", message.to_api)

    def _bot_sees(self, message: SandboxMessage) -> bool:
        chat = message.chat
        if chat.is_private:
            return True
        if chat.bot_status not in ("member", "administrator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text = message.content
        username = self.world.bot.username or ""
        return bool(
            message.new_chat_members
            or text.startswith("/")
            or (message.reply_to is not None and message.reply_to.outgoing)
            or (username and f"@{username}".lower() in text.lower())
        )

    def _callback(
        self, user: SandboxUser, message: SandboxMessage, data: str, label: str | None = None
    ) -> SandboxCallbackQuery:
        chat = message.chat
        chat.taps.append(SandboxTap(self.world.now(), user, label or data, len(chat.messages)))
        query_id = str(FIRST_CALLBACK_ID + self.world.next_id("callback"))
        query = SandboxCallbackQuery(query_id, user, message, data)
        self.world.callbacks[query_id] = query
        self.world.push_update("callback_query", query.to_api)
        return query

    def _last_incoming_id(self, chat: SandboxChat) -> int:
        for message in reversed(chat.messages):
            if not message.outgoing:
                return message.message_id
        return 0
