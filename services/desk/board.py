"""The board (K1): a column per status of the shop's workflow, a card per open order, and for
each card the columns this person may drop it on.

What a drop does is exactly a button in the chat: the service offers the actions the
workflow engine offers this person for the order's status, payment, delivery and goods
(`available_actions`), grouped by the status they lead to. Cards that share those facts share
their moves, so 2,000 cards cost one engine call per distinct combination. The drop itself is
`OrderService.apply`, which decides again: what the board offered is only a hint.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.desk.scope import DeskShop, desk_shops, open_statuses
from services.time.clock import Clock
from services.workflow.definition import ActorKind, Input, StatusKind, Workflow
from services.workflow.engine import Actor, OrderFacts, available_actions, reasons_for
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Buyer, Order

CARDS_PER_COLUMN = 100  # more are counted and found in the table


@dataclass(frozen=True)
class Reason:
    code: str
    title: Mapping[str, str]
    comment_required: bool


@dataclass(frozen=True)
class Move:
    """An action that takes a card to a column; `inputs` open a small form first."""

    action: str
    title: Mapping[str, str]
    inputs: tuple[str, ...]
    confirm: bool
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Card:
    id: int
    number: int
    buyer_name: str
    total: int
    currency: str
    problem: bool
    version: int
    moves: str  # the key of its moves in Board.moves


@dataclass(frozen=True)
class Column:
    status: str
    title: Mapping[str, str]
    kind: StatusKind
    responsible: str | None
    count: int  # open orders in it (final columns: none are shown)
    cards: list[Card]


@dataclass(frozen=True)
class Board:
    shop: DeskShop
    columns: list[Column]
    # moves key -> target status -> the actions leading there
    moves: Mapping[str, Mapping[str, list[Move]]]


class DeskBoard:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def board(self, user_id: int, shop_id: int | None = None) -> Board:
        """The board of `shop_id` (else the person's first shop)."""
        async with reading(self._sessions) as session:
            shops = await desk_shops(session, self._workflows, user_id, shop_id)
            shop = shops[0]
            result = await session.execute(
                select(
                    Order.id,
                    Order.number,
                    Order.status,
                    Order.workflow_id,
                    Order.payment_method,
                    Order.delivery_method,
                    Order.availability,
                    Order.total,
                    Order.currency,
                    Order.problem,
                    Order.version,
                    Buyer.name,
                )
                .join(Buyer, Buyer.id == Order.buyer_id)
                # The open orders' ids from the (shop_id, status) index, a few thousand at
                # most, sorted below: SQLite's statistics do not see that the open statuses
                # are a sliver of a shop's history and would otherwise read every order.
                .where(Order.id.in_(select(Order.id).where(open_statuses(shop)).scalar_subquery()))
            )
            # Newest first; ids follow creation (and reading no dates keeps 2,000 rows cheap).
            rows = sorted(result, key=lambda row: row.id, reverse=True)
        actor = Actor(roles=shop.roles)
        moves: dict[str, dict[str, list[Move]]] = {}
        cards: dict[str, list[Card]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        current = shop.current
        column_codes = {s.code for s in current.statuses}
        for row in rows:
            key = f"{row.workflow_id}:{row.status}:{row.payment_method}:{row.delivery_method}:"
            key += row.availability
            if key not in moves:
                workflow = shop.versions[row.workflow_id]
                facts = OrderFacts(
                    row.status, row.payment_method, row.delivery_method, row.availability
                )
                moves[key] = _moves(workflow, facts, actor)
            column = row.status if row.status in column_codes else ""
            counts[column] += 1
            if len(cards[column]) < CARDS_PER_COLUMN:
                cards[column].append(
                    Card(
                        id=row.id,
                        number=row.number,
                        buyer_name=row.name,
                        total=row.total,
                        currency=row.currency,
                        problem=row.problem,
                        version=row.version,
                        moves=key,
                    )
                )
        columns = [
            Column(
                status=status.code,
                title=status.title,
                kind=status.kind,
                responsible=status.responsible,
                count=counts.get(status.code, 0),
                cards=cards.get(status.code, []),
            )
            for status in current.statuses
        ]
        if counts.get(""):  # orders still in a status an older workflow version had
            columns.append(Column("", {}, StatusKind.ACTIVE, None, counts[""], cards.get("", [])))
        return Board(shop, columns, moves)


def _moves(workflow: Workflow, facts: OrderFacts, actor: Actor) -> dict[str, list[Move]]:
    by_target: dict[str, list[Move]] = defaultdict(list)
    for option in available_actions(workflow, facts, actor):
        reasons = ()
        if Input.REASON in option.inputs:
            reasons = tuple(
                Reason(r.code, r.title, r.comment_required)
                for r in reasons_for(workflow, facts.status, option.capacity or ActorKind.STAFF)
            )
        by_target[option.target].append(
            Move(
                action=option.code,
                title=option.title,
                inputs=tuple(str(i) for i in option.inputs),
                confirm=option.confirm,
                reasons=reasons,
            )
        )
    return dict(by_target)
