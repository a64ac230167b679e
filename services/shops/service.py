"""Creating shops, their owners and their storefront tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.shops.auth import hash_token, new_api_token
from services.time.clock import Clock
from services.vocabulary import LANGUAGES, OWNER, STAFF_ROLES
from services.workflow.presets import PRESETS, preset_data
from services.workflow.store import WorkflowStore
from storage.models import ApiToken, Shop, StaffMember, User

DEFAULT_WORKING_HOURS = {day: ["09:00", "20:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass(frozen=True)
class NewShop:
    shop: Shop
    owner: User
    api_token: str  # shown once; only its hash is stored


async def get_or_create_user(
    session: AsyncSession, telegram_id: int, *, now, name: str = "", language: str | None = None
) -> User:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if user is None:
        user = User(telegram_id=telegram_id, name=name, language=language, created_at=now)
        session.add(user)
        await session.flush()
    return user


class ShopService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def create_shop(
        self,
        *,
        name: str,
        owner_telegram_id: int,
        preset: str = "marketplace",
        owner_name: str = "",
        email: str | None = None,
        timezone: str = "Europe/Moscow",
        country: str = "RU",
        currency: str = "RUB",
        language: str = "ru",
    ) -> NewShop:
        if not name.strip() or len(name) > 128:
            raise ValueError("a shop name of 1 to 128 characters is needed")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset '{preset}': choose one of {', '.join(PRESETS)}")
        if language not in LANGUAGES:
            raise ValueError(f"unknown language '{language}'")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            owner = await get_or_create_user(session, owner_telegram_id, now=now, name=owner_name)
            shop = Shop(
                name=name.strip(),
                email=email,
                timezone=timezone,
                country=country.upper(),
                currency=currency.upper(),
                language=language,
                workflow_code=preset,
                working_hours=dict(DEFAULT_WORKING_HOURS),
                days_off=[],
                settings={},
                created_at=now,
            )
            session.add(shop)
            await session.flush()
            session.add(StaffMember(shop_id=shop.id, user_id=owner.id, role=OWNER, created_at=now))
            await self._workflows.save_version(session, shop.id, preset_data(preset), now)
            token = new_api_token()
            session.add(
                ApiToken(
                    shop_id=shop.id, token_hash=hash_token(token), name="default", created_at=now
                )
            )
        return NewShop(shop=shop, owner=owner, api_token=token)

    async def add_staff(self, shop_id: int, telegram_id: int, role: str, name: str = "") -> User:
        if role not in STAFF_ROLES:
            raise ValueError(f"unknown role '{role}': use one of {', '.join(STAFF_ROLES)}")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            user = await get_or_create_user(session, telegram_id, now=now, name=name)
            exists = await session.scalar(
                select(StaffMember.id).where(
                    StaffMember.shop_id == shop_id,
                    StaffMember.user_id == user.id,
                    StaffMember.role == role,
                )
            )
            if exists is None:
                session.add(
                    StaffMember(shop_id=shop_id, user_id=user.id, role=role, created_at=now)
                )
        return user
