"""The emulated world: users, chats, their messages, files, callback queries and pending updates.

Everything here is plain data plus the bookkeeping Telegram does (ids, dates, the update
queue). Telegram's rules live in `rules.py` and the Bot API methods in `methods/`; this module
only answers "what is there" and records what happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.sandbox.invoices import PreCheckoutQuery, SandboxInvoice, SuccessfulPayment

JsonDict = dict[str, Any]

# Update types Telegram sends when a bot did not ask for a list (or asked for an empty one):
# everything except these three, which a bot has to request explicitly.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

FIRST_USER_ID = 100_000_001
FIRST_GROUP_ID = -4_000_000_001  # basic groups have small negative ids
FIRST_SUPERGROUP_ID = -1_002_000_000_001  # supergroups are "-100" followed by the channel id


class Clock(Protocol):
    """Anything with `now()` (compatible with `services.time.clock.Clock`)."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxError(Exception):
    """A test or the control API asked for something impossible (no such button, chat...)."""


@dataclass(eq=False)
class SandboxUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "ru"
    is_bot: bool = False
    last_name: str | None = None
    # Telegram lets a bot write to a user only after the user opened the chat (/start or any
    # message); `started` records that, `blocked` that the user blocked the bot since.
    started: bool = False
    blocked: bool = False
    # The phone number of their account: what "share contact" sends (never in `to_api`:
    # Telegram shows a user's phone to a bot only in a contact they share).
    phone_number: str | None = None

    def to_api(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass(eq=False)
class StoredFile:
    """A file the bot or a user sent; Telegram keeps one file_id per stored file."""

    file_id: str
    file_unique_id: str
    name: str | None
    mime: str | None
    content: bytes
    kind: str  # "document" or "photo"
    path: str  # what getFile answers as file_path, used by the download route
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.content)

    def as_document(self) -> JsonDict:
        data: JsonDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.name:
            data["file_name"] = self.name
        if self.mime:
            data["mime_type"] = self.mime
        return data

    def as_photo(self) -> list[JsonDict]:
        # Telegram answers several sizes; one is enough for a bot to take the largest ([-1]).
        size = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 1,
            "height": self.height or 1,
            "file_size": self.size,
        }
        return [size]

    def as_file(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.path,
        }


@dataclass(eq=False)
class SandboxTap:
    """A person tapped an inline button in this chat (what a transcript shows as "▶")."""

    date: int
    user: SandboxUser
    label: str
    after: int  # how many messages the chat had then: the tap comes after those


@dataclass
class SandboxChat:
    id: int
    type: str  # "private", "group" or "supergroup"
    title: str | None = None
    peer: SandboxUser | None = None  # the user of a private chat
    # user id -> Telegram status: creator, administrator, member, left, kicked
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "left"
    messages: list[SandboxMessage] = field(default_factory=list)
    reply_keyboard: JsonDict | None = None  # the custom keyboard the bot last showed here
    keyboard_message: SandboxMessage | None = None  # the bot's message that attached it
    next_message_id: int = 1  # message ids count per chat, from 1, as in private chats
    taps: list[SandboxTap] = field(default_factory=list)

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def name(self) -> str:
        if self.peer is not None:
            return self.peer.first_name
        return self.title or str(self.id)

    def to_api(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.peer is not None:
            data["first_name"] = self.peer.first_name
            if self.peer.last_name:
                data["last_name"] = self.peer.last_name
            if self.peer.username:
                data["username"] = self.peer.username
        else:
            data["title"] = self.title or ""
        return data

    def find(self, message_id: int) -> SandboxMessage | None:
        """The message with this id, if it exists and was not deleted."""
        if 1 <= message_id <= len(self.messages):
            message = self.messages[message_id - 1]
            if not message.deleted:
                return message
        return None


@dataclass(eq=False)
class SandboxMessage:
    chat: SandboxChat
    message_id: int
    date: int
    sender: SandboxUser
    outgoing: bool  # sent by the bot
    text: str | None = None
    entities: list[JsonDict] | None = None
    caption: str | None = None
    caption_entities: list[JsonDict] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    reply_markup: JsonDict | None = None  # only inline keyboards belong to a message
    reply_to: SandboxMessage | None = None
    edit_date: int | None = None
    deleted: bool = False
    silent: bool = False  # disable_notification
    media_group_id: str | None = None
    new_chat_members: list[SandboxUser] | None = None
    left_chat_member: SandboxUser | None = None
    forward_from: SandboxUser | None = None
    forward_date: int | None = None
    invoice: SandboxInvoice | None = None
    successful_payment: SuccessfulPayment | None = None
    contact: JsonDict | None = None  # Telegram's Contact: phone_number, first_name, user_id...
    via_bot: SandboxUser | None = None  # sent by choosing a bot's inline result

    @property
    def content(self) -> str:
        """What a reader sees first: the text, or the caption of a file."""
        return self.text if self.text is not None else (self.caption or "")

    def to_api(self, *, with_reply: bool = True) -> JsonDict:
        data: JsonDict = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.to_api(),
            "from": self.sender.to_api(),
        }
        optional: JsonDict = {
            "text": self.text,
            "entities": self.entities,
            "caption": self.caption,
            "caption_entities": self.caption_entities,
            "reply_markup": self.reply_markup,
            "edit_date": self.edit_date,
            "media_group_id": self.media_group_id,
        }
        data.update({key: value for key, value in optional.items() if value})
        if self.document is not None:
            data["document"] = self.document.as_document()
        if self.photo is not None:
            data["photo"] = self.photo.as_photo()
        if self.reply_to is not None and with_reply:
            # Telegram does not nest replies further than one level.
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.new_chat_members:
            data["new_chat_members"] = [user.to_api() for user in self.new_chat_members]
        if self.left_chat_member is not None:
            data["left_chat_member"] = self.left_chat_member.to_api()
        if self.forward_from is not None:
            data["forward_origin"] = {
                "type": "user",
                "date": self.forward_date or self.date,
                "sender_user": self.forward_from.to_api(),
            }
        if self.invoice is not None:
            data["invoice"] = self.invoice.to_api()
        if self.successful_payment is not None:
            data["successful_payment"] = self.successful_payment.to_api()
        if self.contact is not None:
            data["contact"] = dict(self.contact)
        if self.via_bot is not None:
            data["via_bot"] = self.via_bot.to_api()
        return data


@dataclass(frozen=True)
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(eq=False)
class SandboxCallbackQuery:
    id: str
    user: SandboxUser
    message: SandboxMessage
    data: str
    answer: CallbackAnswer | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None

    def to_api(self) -> JsonDict:
        return {
            "id": self.id,
            "from": self.user.to_api(),
            "message": self.message.to_api(),
            # Stable per chat, as Telegram's: lets bots group games by chat.
            "chat_instance": str(abs(self.message.chat.id) * 7919 % 10**18),
            "data": self.data,
        }


@dataclass(eq=False)
class SandboxInlineQuery:
    """A user typing `@bot query` in a chat (inline mode); `results` once the bot answered."""

    id: str
    user: SandboxUser
    query: str
    chat: SandboxChat
    results: list[JsonDict] | None = None

    def to_api(self) -> JsonDict:
        kind = "sender" if self.chat.is_private else self.chat.type
        return {
            "id": self.id,
            "from": self.user.to_api(),
            "query": self.query,
            "offset": "",
            "chat_type": kind,
        }


@dataclass(eq=False)
class PendingUpdate:
    update_id: int
    kind: str  # the Update field: "message", "callback_query", "my_chat_member"...
    # Rendered when delivered, so objects carry the bot's identity known by then.
    render: Callable[[], JsonDict]

    def to_api(self) -> JsonDict:
        return {"update_id": self.update_id, self.kind: self.render()}


@dataclass
class WebhookConfig:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


def member_api(status: str, user: SandboxUser) -> JsonDict:
    """A valid ChatMember object of the given status."""
    data: JsonDict = {"status": status, "user": user.to_api()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "kicked":
        data["until_date"] = 0
    elif status == "administrator":
        rights = (
            "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
            "can_promote_members can_change_info can_invite_users can_post_stories "
            "can_edit_stories can_delete_stories can_send_welcome_messages can_pin_messages"
        )
        data.update({"can_be_edited": False, "is_anonymous": False})
        data.update(dict.fromkeys(rights.split(), True))
        data["can_promote_members"] = False
    return data


class World:
    """All the state of one emulated Telegram with one bot in it."""

    def __init__(self, clock: Clock, *, bot_name: str, bot_username: str) -> None:
        self.clock = clock
        # The bot's id is only known from the token of the first request (any token is
        # accepted); updates render lazily, so they carry it even if injected before.
        self.bot = SandboxUser(id=0, first_name=bot_name, username=bot_username, is_bot=True)
        self.bot_bound = False
        self.bot_token: str | None = (
            None  # the first request's: Mini App launches are signed with it
        )
        # setChatMenuButton: per private chat id, and the default under None (bot/sandbox/webapp.py)
        self.menu_buttons: dict[int | None, JsonDict] = {}
        self.users: dict[int, SandboxUser] = {}
        self.chats: dict[int, SandboxChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callbacks: dict[str, SandboxCallbackQuery] = {}
        self.inline_queries: dict[str, SandboxInlineQuery] = {}
        self.pre_checkout_queries: dict[str, PreCheckoutQuery] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.profile: dict[tuple[str, str], str] = {}  # (field, language) -> bot name/descr.
        self.pending: list[PendingUpdate] = []  # not yet confirmed, in update_id order
        self.last_update_id = 0
        self.allowed_updates: list[str] = []
        self.webhook = WebhookConfig()
        self.closing = False
        # Every error the Bot API answered, as (method, description): tests and benchmarks
        # count what a bot asked in vain ("message is not modified", 429s...).
        self.api_errors: list[tuple[str, str]] = []
        self._counters: dict[str, int] = {}
        self._changed = asyncio.Event()

    # --- time and ids -------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def next_id(self, counter: str) -> int:
        self._counters[counter] = self._counters.get(counter, 0) + 1
        return self._counters[counter]

    # --- change notification --------------------------------------------------------------------
    def notify(self) -> None:
        """Wake everyone waiting for a change (long polls, webhook delivery, test waits)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, seconds: float) -> None:
        """Wait until the next `notify()` or for `seconds`, whichever comes first."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass

    # --- people and chats -----------------------------------------------------------------------
    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = "ru",
        last_name: str | None = None,
        phone_number: str | None = None,
    ) -> SandboxUser:
        user_id = FIRST_USER_ID + self.next_id("user") - 1
        user = SandboxUser(
            user_id,
            first_name,
            username,
            language_code,
            last_name=last_name,
            phone_number=phone_number,
        )
        self.users[user.id] = user
        return user

    def private_chat(self, user: SandboxUser) -> SandboxChat:
        """The user's private chat with the bot (a private chat's id is the user's id)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = SandboxChat(id=user.id, type="private", peer=user, bot_status="member")
            chat.members = {user.id: "member"}
            self.chats[chat.id] = chat
        return chat

    def add_group(
        self, title: str, members: Iterable[SandboxUser], *, supergroup: bool = False
    ) -> SandboxChat:
        number = self.next_id("group") - 1
        if supergroup:
            chat = SandboxChat(id=FIRST_SUPERGROUP_ID - number, type="supergroup", title=title)
        else:
            chat = SandboxChat(id=FIRST_GROUP_ID - number, type="group", title=title)
        for index, member in enumerate(members):
            # The first member created the group.
            chat.members[member.id] = "creator" if index == 0 else "member"
        self.chats[chat.id] = chat
        return chat

    def find_user(self, user_id: int) -> SandboxUser | None:
        if user_id == self.bot.id and self.bot_bound:
            return self.bot
        return self.users.get(user_id)

    def member_status(self, chat: SandboxChat, user: SandboxUser) -> str:
        if user is self.bot:
            return chat.bot_status
        return chat.members.get(user.id, "left")

    # --- messages and files ---------------------------------------------------------------------
    def add_message(
        self, chat: SandboxChat, sender: SandboxUser, *, outgoing: bool, **fields: Any
    ) -> SandboxMessage:
        message = SandboxMessage(
            chat=chat,
            message_id=chat.next_message_id,
            date=self.now(),
            sender=sender,
            outgoing=outgoing,
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        self.notify()
        return message

    def store_file(
        self,
        content: bytes,
        *,
        name: str | None,
        mime: str | None,
        kind: str,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        number = self.next_id("file")
        folder = "photos" if kind == "photo" else "documents"
        suffix = _suffix(name) or (".jpg" if kind == "photo" else "")
        stored = StoredFile(
            file_id=f"{'AgAC' if kind == 'photo' else 'BQAC'}sandbox{number:06d}",
            file_unique_id=f"AQAD{number:06d}",
            name=name,
            mime=mime,
            content=content,
            kind=kind,
            path=f"{folder}/file_{number}{suffix}",
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return next((file for file in self.files.values() if file.path == path), None)

    # --- updates --------------------------------------------------------------------------------
    def push_update(self, kind: str, render: Callable[[], JsonDict]) -> PendingUpdate:
        self.last_update_id += 1
        update = PendingUpdate(self.last_update_id, kind, render)
        self.pending.append(update)
        self.notify()
        return update

    def confirm_before(self, offset: int) -> None:
        """Forget updates with update_id < offset (what getUpdates' offset means)."""
        before = len(self.pending)
        self.pending = [update for update in self.pending if update.update_id >= offset]
        if len(self.pending) != before:
            self.notify()

    def confirm(self, update: PendingUpdate) -> None:
        self.confirm_before(update.update_id + 1)

    def is_allowed(self, update: PendingUpdate) -> bool:
        if self.allowed_updates:
            return update.kind in self.allowed_updates
        return update.kind not in OPT_IN_UPDATES

    def drop_unwanted(self) -> None:
        """Telegram never produces updates of types the bot did not ask for."""
        before = len(self.pending)
        self.pending = [update for update in self.pending if self.is_allowed(update)]
        if len(self.pending) != before:
            self.notify()

    def processed_upto(self) -> int:
        """The highest update_id such that it and all earlier updates were confirmed."""
        return self.pending[0].update_id - 1 if self.pending else self.last_update_id


def _suffix(name: str | None) -> str:
    if not name or "." not in name:
        return ""
    suffix = "." + name.rsplit(".", 1)[1]
    return suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""
