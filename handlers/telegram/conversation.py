"""/cancel leaves whatever conversation the person is in (issue 14).

Every short conversation (a track code, a comment, a search, a template upload, a return, a
review...) waits for the person's next message, and a waiting step would take "/cancel" as
its input: a track code "/cancel". This router comes first, so /cancel ends any state.
Conversations that say something of their own when left (nothing was created, the order was
not changed) keep their handler: their states are passed over here and reach it.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

# State groups whose own /cancel handler says what was left (handlers.telegram.onboarding,
# .manual_order, .order_edit, .dialog), and the states of theirs it does not take (an order
# being created right now). A state is "Group:step"; tests/e2e/test_conversations.py tries
# every state there is, so a group listed here wrongly shows there.
OWN_CANCEL = ("Onboarding:", "NewOrder:", "EditItems:", "EditDelivery:", "EditDiscount:")
OWN_CANCEL += ("EditSplit:", "Writing:")
NOT_OWN = frozenset({"NewOrder:creating"})


class InConversation(Filter):
    """Some conversation is under way, and not one that handles /cancel itself."""

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        if raw_state is None:
            return False
        return raw_state in NOT_OWN or not raw_state.startswith(OWN_CANCEL)


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled. Nothing was changed."))


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(cancel, Command("cancel"), InConversation())
    return router
