"""The shop's balance as its owner, admins and accountant see it (/balance)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.money.ledger.accounts import SHOP_RESERVED, Account
from services.refusals import Reason, Refused
from services.shops.staff import require_staff
from services.time.clock import Clock
from storage.database import reading
from storage.models import LedgerEntry, Order, Shop

# Who sees the shop's money: not packers, couriers or managers.
BALANCE_ROLES = frozenset({"owner", "admin", "accountant"})
LATEST = 10
SHOP_ACCOUNTS = tuple(
    str(a) for a in (*SHOP_RESERVED, Account.AVAILABLE, Account.AMOUNT_DUE, Account.REFUND_DUE)
)


@dataclass(frozen=True)
class EntryLine:
    created_at: datetime
    kind: str
    amount: int  # signed, as the shop sees it (shop_side)
    order_number: int | None


@dataclass(frozen=True)
class Balance:
    shop_name: str
    currency: str
    reserved: int  # income and delivery held on paid orders
    available: int  # credited; negative when penalties exceed it
    latest: list[EntryLine]
    owed_by_buyers: int = 0  # what edits of paid orders left the buyers to pay
    owed_to_buyers: int = 0  # what the shop is to give back after edits lowered paid totals


async def account_balances(session: AsyncSession, shop_id: int) -> dict[str, int]:
    """Every account of the shop: debits minus credits, in one pass over its entries."""
    pairs = await session.execute(
        select(LedgerEntry.debit_account, LedgerEntry.credit_account, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.shop_id == shop_id)
        .group_by(LedgerEntry.debit_account, LedgerEntry.credit_account)
    )
    balances = {str(account): 0 for account in Account}
    for debit, credit, amount in pairs:
        balances[debit] = balances.get(debit, 0) + int(amount)
        balances[credit] = balances.get(credit, 0) - int(amount)
    return balances


def shop_side(entry: LedgerEntry) -> int:
    """How an entry changes what the shop has: its available balance when it touches it
    (a credit is +, a penalty -), else its reserves (a payment +, a refund -), else what is
    open with buyers (a due charged +, a refund owed given back -)."""

    def change(accounts: tuple[str, ...]) -> int:
        return (entry.amount if entry.debit_account in accounts else 0) - (
            entry.amount if entry.credit_account in accounts else 0
        )

    return (
        change((str(Account.AVAILABLE),))
        or change(tuple(str(a) for a in SHOP_RESERVED))
        or change((str(Account.AMOUNT_DUE), str(Account.REFUND_DUE)))
    )


class BalanceService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def balance(self, shop_id: int, user_id: int, latest: int = LATEST) -> Balance:
        async with reading(self._sessions) as session:
            roles = await require_staff(session, shop_id, user_id)
            if not roles & BALANCE_ROLES:
                raise Refused(
                    Reason.FORBIDDEN, "the balance is for the owner, admins and the accountant"
                )
            shop = await session.get(Shop, shop_id)
            balances = await account_balances(session, shop_id)
            rows = await session.execute(
                select(LedgerEntry, Order.number)
                .outerjoin(Order, Order.id == LedgerEntry.order_id)
                .where(
                    LedgerEntry.shop_id == shop_id,
                    # The shop's own accounts: the platform's fee moving is not its news.
                    or_(
                        LedgerEntry.debit_account.in_(SHOP_ACCOUNTS),
                        LedgerEntry.credit_account.in_(SHOP_ACCOUNTS),
                    ),
                )
                .order_by(LedgerEntry.id.desc())
                .limit(latest)
            )
            lines = [
                EntryLine(entry.created_at, entry.kind, shop_side(entry), number)
                for entry, number in rows
            ]
            return Balance(
                shop_name=shop.name,
                currency=shop.currency,
                reserved=sum(balances[str(a)] for a in SHOP_RESERVED),
                available=balances[str(Account.AVAILABLE)],
                latest=lines,
                owed_by_buyers=balances[str(Account.AMOUNT_DUE)],
                owed_to_buyers=balances[str(Account.REFUND_DUE)],
            )
