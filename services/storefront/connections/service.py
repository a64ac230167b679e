"""A shop's connections to its stores (H4): made, listed and removed by owners and admins.

What the shop gives is checked by the platform's connector (`check_credentials`: a store
URL must be public and HTTPS, a Shopify domain a myshopify.com one), then sealed with the
vault (services.outside.vault) as one JSON value; only the fields the connector marks as
not secret (the store's address) are kept in clear to show back. Secrets are never shown
again, never logged, and never leave this module unsealed except to the connector.

Each connection has an unguessable path token: the platform posts to
/connectors/<platform>/<token>, and the token finds the shop before the platform's own
signature is checked. Connecting again keeps the token (the platform's webhook settings
stay right) and replaces the credentials.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.outside.vault import Vault, VaultError
from services.refusals import Reason, Refused
from services.shops.staff import require_supervisor
from services.storefront.connections.registry import MADE_BY_US, PLATFORMS, ConnectorRegistry
from services.time.clock import Clock
from storage.database import reading
from storage.models import ConnectorDelivery, Shop, ShopConnection

KEPT_DELIVERIES = 20  # shown per shop in /settings


@dataclass(frozen=True)
class ConnectionInfo:
    platform: str
    path_token: str
    shown: dict[str, str]  # the fields that are not secret (the store's address)
    updated_at: datetime


@dataclass(frozen=True)
class Connected:
    info: ConnectionInfo
    made_secret: str | None  # a key ShopBot made for the platform (Tilda's), shown once


@dataclass(frozen=True)
class DeliveryLine:
    id: int
    platform: str
    outcome: str
    reason: str | None
    platform_order_id: str | None
    order_numbers: list[int]
    created_at: datetime


def _info(row: ShopConnection) -> ConnectionInfo:
    return ConnectionInfo(row.platform, row.path_token, dict(row.shown or {}), row.updated_at)


class ConnectionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        vault: Vault,
        registry: ConnectorRegistry,
    ):
        self._sessions = sessions
        self._clock = clock
        self._vault = vault
        self._registry = registry

    def hold(self, value: str) -> str:
        """A typed credential sealed while the conversation asks for the next one (the
        conversation's state may live in Redis): `connect(..., held=True)` opens it."""
        return self._vault.seal(value)

    def asked(self, platform: str):
        """What the shop types in to connect `platform`, in order (Tilda: nothing)."""
        return self._registry.asked(platform)

    async def list(self, shop_id: int, *, user_id: int) -> list[ConnectionInfo]:
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            rows = await session.scalars(
                select(ShopConnection)
                .where(ShopConnection.shop_id == shop_id)
                .order_by(ShopConnection.platform)
            )
            return [_info(row) for row in rows]

    async def connect(
        self,
        shop_id: int,
        platform: str,
        typed: Mapping[str, str],
        *,
        user_id: int,
        held: bool = False,
    ) -> Connected:
        """Check, seal and keep the credentials; Refused(INVALID) names a field at fault.
        `held`: the values were sealed with `hold` while they were typed."""
        if platform not in PLATFORMS:
            raise Refused(Reason.NOT_FOUND, "no such platform")
        given = {key: value for key, value in typed.items() if isinstance(value, str)}
        if held:
            try:
                given = {key: self._vault.open(value) for key, value in given.items()}
            except VaultError:
                raise Refused(Reason.INVALID, "typed too long ago", {"field": ""}) from None
        made = None
        if platform in MADE_BY_US:
            made = given[MADE_BY_US[platform]] = "sbk_" + secrets.token_urlsafe(24)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
            connector = self._registry.get(platform, shop.currency)
            cleaned = connector.check_credentials(given)
            shown = {f.name: cleaned[f.name] for f in connector.secret_fields if not f.secret}
            sealed = self._vault.seal(json.dumps(cleaned))
            row = await session.scalar(
                select(ShopConnection).where(
                    ShopConnection.shop_id == shop_id, ShopConnection.platform == platform
                )
            )
            if row is None:
                row = ShopConnection(
                    shop_id=shop_id,
                    platform=platform,
                    path_token=secrets.token_urlsafe(24),
                    created_at=now,
                )
                session.add(row)
            row.credentials, row.shown, row.updated_at = sealed, shown, now
            await session.flush()
            return Connected(_info(row), made)

    async def disconnect(self, shop_id: int, platform: str, *, user_id: int) -> None:
        """Forget the credentials; the platform's posts are refused from now on (404)."""
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            removed = await session.execute(
                delete(ShopConnection).where(
                    ShopConnection.shop_id == shop_id, ShopConnection.platform == platform
                )
            )
            if removed.rowcount == 0:
                raise Refused(Reason.NOT_FOUND, "not connected")

    async def deliveries(
        self, shop_id: int, *, user_id: int, limit: int = KEPT_DELIVERIES
    ) -> list[DeliveryLine]:
        """What the platforms sent lately, newest first: created, refused, unverified..."""
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            rows = await session.scalars(
                select(ConnectorDelivery)
                .where(ConnectorDelivery.shop_id == shop_id)
                .order_by(ConnectorDelivery.id.desc())
                .limit(limit)
            )
            return [
                DeliveryLine(
                    row.id,
                    row.platform,
                    row.outcome,
                    row.reason,
                    row.platform_order_id,
                    list(row.order_numbers or []),
                    row.created_at,
                )
                for row in rows
            ]

    async def delivery_body(self, shop_id: int, delivery_id: int, *, user_id: int) -> str:
        """The body a refused or unverified delivery carried, as kept (cut short)."""
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            row = await session.get(ConnectorDelivery, delivery_id)
            if row is None or row.shop_id != shop_id:
                raise Refused(Reason.NOT_FOUND, "no such delivery")
            return row.body or ""
