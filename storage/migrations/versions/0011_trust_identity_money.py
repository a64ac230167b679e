"""Trust: buyer identity, money after splits and edits

Buyers: one row per order placed. Rows merged before on an unverified phone or e-mail are
split again here, one per order group (an order, the orders split off it, its other half by
availability); a Telegram account stays bound only to the groups whose own link it opened
(the `buyer_linked` event says so). Verified identities: users.phone(_verified_at) from
Telegram's "share contact", buyers.email_verified_at from a used e-mail link. Money:
orders.amount_paid (from the ledger's payments so far) and orders.balance_due. Cards:
order_cards.digest, so an unchanged card is not redrawn.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:00:00
"""

import json
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("phone_verified_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_users_phone"), ["phone"], unique=False)

    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("amount_paid", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("balance_due", sa.BigInteger(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("order_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))

    connection = op.get_bind()
    # What buyers paid so far: every posting out of buyer_payments was a payment (0008).
    connection.execute(
        sa.text(
            "UPDATE orders SET amount_paid = COALESCE((SELECT SUM(amount) FROM ledger_entries "
            "WHERE ledger_entries.order_id = orders.id "
            "AND ledger_entries.credit_account = 'buyer_payments'), 0)"
        )
    )
    _split_merged_buyers(connection)


def _split_merged_buyers(connection) -> None:
    orders = connection.execute(
        sa.text("SELECT id, buyer_id, split_from_id FROM orders ORDER BY id")
    ).all()
    by_buyer: dict[int, list] = defaultdict(list)
    for order in orders:
        by_buyer[order.buyer_id].append(order)
    merged = {buyer_id: rows for buyer_id, rows in by_buyer.items() if len(rows) > 1}
    if not merged:
        return
    parent = {order.id: order.id for order in orders}

    def root(order_id: int) -> int:
        while parent[order_id] != order_id:
            parent[order_id] = parent[parent[order_id]]
            order_id = parent[order_id]
        return order_id

    def join(a: int, b: int) -> None:
        if a in parent and b in parent:
            parent[root(max(a, b))] = root(min(a, b))

    for order in orders:
        if order.split_from_id is not None:
            join(order.id, order.split_from_id)
    events = connection.execute(
        sa.text(
            "SELECT order_id, action, actor_user_id, payload FROM order_events "
            "WHERE action IN ('split_by_availability', 'buyer_linked')"
        )
    ).all()
    linked: set[tuple[int, int]] = set()  # (order id, user id) whose link that person opened
    for event in events:
        if event.action == "buyer_linked" and event.actor_user_id is not None:
            linked.add((event.order_id, event.actor_user_id))
        elif event.action == "split_by_availability":
            payload = event.payload
            if isinstance(payload, str):
                payload = json.loads(payload)
            for sibling in (payload or {}).get("sibling_order_ids", []):
                join(event.order_id, int(sibling))
    for buyer_id, rows in merged.items():
        buyer = connection.execute(
            sa.text(
                "SELECT shop_id, user_id, telegram_id, name, phone, email, language, created_at "
                "FROM buyers WHERE id = :id"
            ),
            {"id": buyer_id},
        ).one()
        groups: dict[int, list[int]] = defaultdict(list)
        for order in rows:
            groups[root(order.id)].append(order.id)
        if len(groups) < 2:
            continue
        for index, (_, order_ids) in enumerate(sorted(groups.items())):
            opened = buyer.user_id is not None and any(
                (order_id, buyer.user_id) in linked for order_id in order_ids
            )
            user_id, telegram_id = (buyer.user_id, buyer.telegram_id) if opened else (None, None)
            if index == 0:
                connection.execute(
                    sa.text("UPDATE buyers SET user_id = :u, telegram_id = :t WHERE id = :id"),
                    {"u": user_id, "t": telegram_id, "id": buyer_id},
                )
                continue
            values = {
                "shop_id": buyer.shop_id,
                "user_id": user_id,
                "telegram_id": telegram_id,
                "name": buyer.name,
                "phone": buyer.phone,
                "email": buyer.email,
                "language": buyer.language,
                "created_at": buyer.created_at,
            }
            new_id = connection.execute(
                sa.text(
                    "INSERT INTO buyers (shop_id, user_id, telegram_id, name, phone, email, "
                    "language, created_at) VALUES (:shop_id, :user_id, :telegram_id, :name, "
                    ":phone, :email, :language, :created_at) RETURNING id"
                ),
                values,
            ).scalar_one()
            connection.execute(
                sa.text("UPDATE orders SET buyer_id = :new WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"new": new_id, "ids": order_ids},
            )


def downgrade() -> None:
    # The buyers split apart stay apart: merging them again on a phone was the defect.
    with op.batch_alter_table("order_cards", schema=None) as batch_op:
        batch_op.drop_column("digest")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("balance_due")
        batch_op.drop_column("amount_paid")

    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_phone"))
        batch_op.drop_column("phone_verified_at")
        batch_op.drop_column("phone")
