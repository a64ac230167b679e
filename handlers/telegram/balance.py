"""/balance (F2): the shop's reserved and available money and its latest ledger entries.

For the owner, admins and the accountant; the service refuses anyone else, and the refusal
middleware tells them so.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.telegram.format import esc, money, when
from services.money.ledger.balance import Balance, BalanceService
from services.shops.users import Person, UserService


def kind_name(kind: str) -> str:
    names = {
        "reserve_income": _("income reserved"),
        "reserve_delivery": _("delivery reserved"),
        "credit_income": _("income credited"),
        "credit_delivery": _("delivery credited"),
        "refund_goods": _("goods refunded to the buyer"),
        "refund_delivery": _("delivery refunded to the buyer"),
        "compensate_delivery": _("delivery compensated"),
        "penalty": _("fee for a late cancellation"),
        "return_income": _("returned goods"),
        "return_fee": _("commission on returned goods"),
        "return_due": _("returned goods taken off what the buyer owes"),
        "fee_released": _("commission on returned goods, back to the shop"),
        "reallocate": _("paid money held anew after an edit"),
        "amount_due": _("the buyer owes more after an edit"),
        "due_cancelled": _("no longer owed by the buyer"),
        "refund_due": _("owed back to the buyer"),
        "refund_paid": _("given back to the buyer"),
        "split_out": _("paid money moved to the split-off order"),
        "split_in": _("paid money brought from the order it was split from"),
        "paid_late": _("paid by the buyer after credit"),
    }
    return names.get(kind, kind)


def signed(amount: int, currency: str, language: str) -> str:
    sign = "+" if amount > 0 else "−" if amount < 0 else ""
    return sign + money(abs(amount), currency, language)


def balance_text(balance: Balance, timezone: str, language: str) -> str:
    lines = [
        _("💰 <b>Balance of {shop}</b>").format(shop=esc(balance.shop_name)),
        "",
        _("<b>Reserved:</b> {amount}").format(
            amount=money(balance.reserved, balance.currency, language)
        ),
        _("<b>Available:</b> {amount}").format(
            amount=money(balance.available, balance.currency, language)
        ),
        _(
            "Income is reserved when an order is paid and credited when the buyer confirms "
            "receipt or the order completes."
        ),
        "",
    ]
    if balance.owed_by_buyers:
        lines.insert(
            -2,
            _("<b>Still to be paid by buyers:</b> {amount}").format(
                amount=money(balance.owed_by_buyers, balance.currency, language)
            ),
        )
    if balance.owed_to_buyers:
        lines.insert(
            -2,
            _("<b>To be refunded to buyers:</b> {amount}").format(
                amount=money(balance.owed_to_buyers, balance.currency, language)
            ),
        )
    if not balance.latest:
        lines.append(_("No entries yet."))
        return "\n".join(lines)
    lines.append(_("<b>Latest entries:</b>"))
    for entry in balance.latest:
        order = f"#{entry.order_number} · " if entry.order_number is not None else ""
        lines.append(
            f"{when(entry.created_at, timezone, language)} · {order}{kind_name(entry.kind)}: "
            f"{signed(entry.amount, balance.currency, language)}"
        )
    return "\n".join(lines)


async def balance_command(
    message: Message, users: UserService, user: Person, balance: BalanceService, i18n: I18n
) -> None:
    membership = await users.current_shop(user.id)
    if membership is None:
        await message.answer(_("You are not staff of any shop yet. Send /start to create one."))
        return
    result = await balance.balance(membership.shop.id, user.id)
    await message.answer(balance_text(result, membership.shop.timezone, i18n.current_locale))


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(balance_command, Command("balance"), F.chat.type == "private")
    return router
