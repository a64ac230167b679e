"""What a Telegram notification is about, read when it is sent: the order as it is now, its
shop and workflow (for the status titles), the dialog message, and the language of the person
it is for (their own choice or their Telegram app's, else the shop's for staff and the buyer's
for buyers; Russian last).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.pump import Outgoing
from services.messaging.notifications.recipients import BUYER, CARD, GROUP
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import DialogMessage, Order, Shop, StaffMember, User


@dataclass(frozen=True)
class Notice:
    language: str
    order: Order | None  # with its buyer; None when the order is gone
    shop: Shop | None
    workflow: Workflow | None
    dialog: DialogMessage | None  # dialog topics: the message relayed

    def status_title(self, code: str | None) -> str:
        code = code or (self.order.status if self.order else "")
        try:
            titles = self.workflow.status(code).title
        except (AttributeError, KeyError):
            return code
        return titles.get(self.language) or titles.get(DEFAULT_LANGUAGE) or code

    def reason_title(self, code: str) -> str:
        """A cancellation reason's title in the reader's language (its code if unknown)."""
        reason = self.workflow.reason(code) if self.workflow is not None else None
        if reason is None:
            return code
        return reason.title.get(self.language) or reason.title.get(DEFAULT_LANGUAGE) or code

    def action_title(self, code: str | None, from_status: str | None) -> str:
        """A workflow action's title, as its button said, in the reader's language."""
        code = code or ""
        if self.workflow is None or from_status is None:
            return code
        try:
            transitions = self.workflow.transitions_from(from_status)
        except KeyError:
            return code
        for transition in transitions:
            if transition.code == code:
                titles = transition.title
                return titles.get(self.language) or titles.get(DEFAULT_LANGUAGE) or code
        return code

    def is_final(self, code: str) -> bool:
        try:
            return self.workflow.status(code).is_final
        except (AttributeError, KeyError):
            return False


class NoticeReader:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], workflows: WorkflowStore):
        self._sessions = sessions
        self._workflows = workflows

    async def read(self, delivery: Outgoing) -> Notice:
        async with reading(self._sessions) as session:
            order = await session.get(Order, delivery.order_id) if delivery.order_id else None
            shop_id = order.shop_id if order is not None else delivery.shop_id
            shop = await session.get(Shop, shop_id) if shop_id else None
            workflow = (
                await self._workflows.get(session, order.workflow_id) if order is not None else None
            )
            dialog_id = delivery.data.get("dialog_message_id")
            dialog = await session.get(DialogMessage, dialog_id) if dialog_id else None
            language = await _language(session, delivery, order, shop)
            return Notice(language, order, shop, workflow, dialog)


async def _language(
    session: AsyncSession, delivery: Outgoing, order: Order | None, shop: Shop | None
) -> str:
    """As the person sees the bot when they write to it (the language middleware): their
    choice, else their Telegram app's; then the shop's (staff) or the buyer's (buyers)."""
    own: list[str | None] = []
    if delivery.user_id is not None and delivery.to != GROUP:  # a group reads the shop's
        person = (
            await session.execute(
                select(User.language, User.telegram_language).where(User.id == delivery.user_id)
            )
        ).first()
        if person is not None:
            own = [person.language, (person.telegram_language or "").split("-")[0].lower()]
    for_buyer = delivery.to == BUYER
    if delivery.to == CARD and shop is not None and delivery.user_id is not None:
        staff = await session.scalar(
            select(StaffMember.id)
            .where(StaffMember.shop_id == shop.id, StaffMember.user_id == delivery.user_id)
            .limit(1)
        )
        for_buyer = staff is None
    fallback = (
        (order.buyer.language if order is not None else None)
        if for_buyer
        else (shop.language if shop is not None else None)
    )
    for language in (*own, fallback):
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE
