"""Users sending contacts, as Telegram's clients do (the Bot API's Contact object).

Two ways, which a bot must tell apart:
- the "share contact" button (a reply keyboard button with `request_contact`): the client
  sends the user's own phone number, with `user_id` set to the user's own id, replying to the
  bot's message that attached the keyboard. Only possible while such a keyboard is shown, in
  the private chat.
- any contact from the attachment menu (someone from the address book, or a number typed
  in): `user_id` is that contact's Telegram account if it has one, else absent. A bot that
  takes it as proof of the sender's phone is fooled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.sandbox.state import SandboxChat, SandboxError, SandboxMessage, SandboxUser

if TYPE_CHECKING:
    from bot.sandbox.state import World

MAX_PHONE = 32  # characters; Telegram's numbers are far shorter


class ContactActions:
    """Mixed into TelegramEmulator: `world`, `_chat_to_write` and `_deliver` come from it."""

    world: World

    if TYPE_CHECKING:

        def _chat_to_write(self, user: SandboxUser, chat: SandboxChat | None) -> SandboxChat: ...

        def _deliver(self, message: SandboxMessage) -> None: ...

    def share_contact(self, user: SandboxUser) -> SandboxMessage:
        """The user taps the keyboard's "share contact" button: their own number goes."""
        chat = self.world.private_chat(user)
        if not _requests_contact(chat.reply_keyboard):
            raise SandboxError(
                f"the bot shows {user.first_name} no button that requests their contact"
            )
        if not user.phone_number:
            raise SandboxError(f"{user.first_name} has no phone number: user(phone_number=...)")
        contact: dict[str, Any] = {
            "phone_number": user.phone_number,
            "first_name": user.first_name,
            "user_id": user.id,
        }
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._contact(user, contact, reply_to=chat.keyboard_message)

    def send_contact(
        self,
        user: SandboxUser,
        phone_number: str,
        first_name: str,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
    ) -> SandboxMessage:
        """The user sends any contact from the attachment menu (`user_id`: the contact's
        Telegram account, if it has one)."""
        if not phone_number or len(phone_number) > MAX_PHONE or not first_name:
            raise SandboxError("a contact needs a phone number and a first name")
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._contact(user, contact, reply_to=None)

    def _contact(
        self, user: SandboxUser, contact: dict[str, Any], reply_to: SandboxMessage | None
    ) -> SandboxMessage:
        chat = self._chat_to_write(user, None)
        if reply_to is not None and (reply_to.deleted or reply_to.chat is not chat):
            reply_to = None
        message = self.world.add_message(
            chat, user, outgoing=False, contact=contact, reply_to=reply_to
        )
        self._deliver(message)
        return message


def _requests_contact(keyboard: dict[str, Any] | None) -> bool:
    rows = (keyboard or {}).get("keyboard") or []
    return any(
        isinstance(button, dict) and button.get("request_contact") for row in rows for button in row
    )
