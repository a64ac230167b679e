"""A shop's accounts at carriers: the credentials each carrier adapter needs, sealed.

Owners and admins set them in /settings. The values are sealed with the vault as one JSON
value and opened only for the adapter's request; nothing here returns them to a person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.carriers.base import CarrierAdapter
from services.carriers.links import CARRIERS
from services.outside.vault import Vault, VaultError
from services.refusals import Reason, Refused
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from storage.database import reading
from storage.models import CarrierAccount

MAX_VALUE = 500  # characters of one credential


class CarrierAccounts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        vault: Vault,
        adapters: Mapping[str, CarrierAdapter],
    ):
        self._sessions = sessions
        self._clock = clock
        self._vault = vault
        self._adapters = adapters

    def carriers(self) -> list[str]:
        """The carriers a shop can connect: those with an adapter, in the buttons' order."""
        return [key for key in CARRIERS if key in self._adapters]

    def fields(self, carrier: str) -> tuple[str, ...]:
        adapter = self._adapters.get(carrier)
        if adapter is None:
            raise Refused(Reason.NOT_FOUND, "no such carrier")
        return tuple(adapter.credential_fields)

    def hold(self, value: str) -> str:
        """A typed credential sealed while the conversation asks for the next one."""
        return self._vault.seal(value)

    async def connected(self, shop_id: int, *, user_id: int) -> list[str]:
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            rows = await session.scalars(
                select(CarrierAccount.carrier).where(CarrierAccount.shop_id == shop_id)
            )
            return sorted(rows)

    async def save(
        self,
        shop_id: int,
        carrier: str,
        typed: Mapping[str, str],
        *,
        user_id: int,
        held: bool = False,
    ) -> None:
        """Seal and keep the carrier's credentials (`held`: typed values sealed by `hold`)."""
        fields = self.fields(carrier)
        values = {}
        for name in fields:
            value = typed.get(name)
            if held and isinstance(value, str):
                try:
                    value = self._vault.open(value)
                except VaultError:
                    raise Refused(Reason.INVALID, "typed too long ago", {"field": name}) from None
            value = value.strip() if isinstance(value, str) else ""
            if not value or len(value) > MAX_VALUE:
                raise Refused(
                    Reason.INVALID, f"{name}: 1 to {MAX_VALUE} characters", {"field": name}
                )
            values[name] = value
        sealed = self._vault.seal(json.dumps(values))
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            row = await session.scalar(
                select(CarrierAccount)
                .where(CarrierAccount.shop_id == shop_id, CarrierAccount.carrier == carrier)
                .with_for_update()
            )
            if row is None:
                session.add(
                    CarrierAccount(
                        shop_id=shop_id,
                        carrier=carrier,
                        credentials=sealed,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.credentials, row.updated_at = sealed, now

    async def remove(self, shop_id: int, carrier: str, *, user_id: int) -> bool:
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            done = await session.execute(
                delete(CarrierAccount).where(
                    CarrierAccount.shop_id == shop_id, CarrierAccount.carrier == carrier
                )
            )
            return bool(done.rowcount)

    async def opened(
        self, session: AsyncSession, carrier: str, shop_ids: Iterable[int]
    ) -> dict[int, dict[str, str] | None]:
        """For the sweep: each shop's credentials at `carrier` (None: none, or unreadable)."""
        ids = sorted(set(shop_ids))
        found: dict[int, dict[str, str] | None] = dict.fromkeys(ids)
        rows = await session.execute(
            select(CarrierAccount.shop_id, CarrierAccount.credentials).where(
                CarrierAccount.carrier == carrier, CarrierAccount.shop_id.in_(ids)
            )
        )
        for shop_id, sealed in rows:
            try:
                value = json.loads(self._vault.open(sealed))
            except (VaultError, ValueError):
                continue
            if isinstance(value, dict):
                found[shop_id] = {k: v for k, v in value.items() if isinstance(v, str)}
        return found
