"""A shop's payment setup, for its owner and admins: the instructions buyers read (per
language) and the providers' credentials, sealed in the vault (services.outside.vault) so a
database dump shows none of them; they are never shown back, only whether they are set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.outside.vault import Vault
from services.payments.instructions import (
    MAX_INSTRUCTIONS,
    bank_lines,
    instructions_by_language,
    with_instructions,
)
from services.refusals import Reason, Refused
from services.shops.staff import require_supervisor
from services.vocabulary import LANGUAGES
from storage.database import reading
from storage.models import Shop

PAY_BY_CARD = "pay_by_card"  # the e-mail's signed link: open YooKassa's page for the order
TELEGRAM_TOKEN = "telegram_payments_token"  # shop.settings key: the sealed provider token
YOOKASSA = "yookassa_shop_id"  # shop.settings key: the YooKassa shop id (not secret)
YOOKASSA_KEY = "yookassa_secret_key"  # shop.settings key: the sealed secret key
# Both sealed keys are marked on Shop.settings (storage/sealing.py), so a key rotation's
# `python -m bot secrets reseal` moves them too.
SEALED_KEYS = (TELEGRAM_TOKEN, YOOKASSA_KEY)
# A provider token from @BotFather's Payments: "<digits>:<TEST|LIVE>:<key>".
_TOKEN_MIN, _TOKEN_MAX = 10, 200


@dataclass(frozen=True)
class PaymentSetup:
    shop_id: int
    shop_language: str
    instructions: dict[str, str]  # {language: text}
    bank: list[str]  # the bank details' lines, as buyers see them
    telegram_payments: bool  # a provider token is set
    yookassa: bool = False  # a YooKassa shop id and secret key are set


class PaymentSettings:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], vault: Vault):
        self._sessions = sessions
        self._vault = vault

    async def get(self, shop_id: int, user_id: int) -> PaymentSetup:
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            return _setup(await session.get(Shop, shop_id))

    async def set_instructions(
        self, shop_id: int, user_id: int, language: str, text: str
    ) -> PaymentSetup:
        """The buyer's instructions in `language` ("" removes them)."""
        if language not in LANGUAGES:
            raise Refused(Reason.INVALID, "no such language", {"field": "language"})
        text = text.strip()
        if len(text) > MAX_INSTRUCTIONS:
            raise Refused(
                Reason.INVALID,
                f"at most {MAX_INSTRUCTIONS} characters",
                {"field": "instructions"},
            )
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id, with_for_update=True)
            shop.settings = with_instructions(shop.settings, language, text)
            return _setup(shop)

    async def set_telegram_token(self, shop_id: int, user_id: int, token: str) -> PaymentSetup:
        """The provider token Telegram Payments charge with ("" removes it), sealed."""
        token = token.strip()
        if token and (
            not _TOKEN_MIN <= len(token) <= _TOKEN_MAX or ":" not in token or " " in token
        ):
            raise Refused(
                Reason.INVALID,
                "the provider token @BotFather gave, like 1234567:TEST:abc",
                {"field": "token"},
            )
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id, with_for_update=True)
            settings = {k: v for k, v in (shop.settings or {}).items() if k != TELEGRAM_TOKEN}
            if token:
                settings[TELEGRAM_TOKEN] = self._vault.seal(token)
            shop.settings = settings
            return _setup(shop)

    async def set_yookassa(self, shop_id: int, user_id: int, text: str) -> PaymentSetup:
        """'<shop id> <secret key>' from YooKassa's account ("" removes them); the key sealed."""
        parts = text.split()
        if parts and (len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) > 200):
            raise Refused(
                Reason.INVALID,
                "the shop id and the secret key, separated by a space: 506751 live_AbC…",
                {"field": "yookassa"},
            )
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id, with_for_update=True)
            settings = {
                k: v for k, v in (shop.settings or {}).items() if k not in (YOOKASSA, YOOKASSA_KEY)
            }
            if parts:
                settings[YOOKASSA] = parts[0]
                settings[YOOKASSA_KEY] = self._vault.seal(parts[1])
            shop.settings = settings
            return _setup(shop)

    async def yookassa(self, shop_id: int) -> tuple[str, str] | None:
        """The shop's YooKassa shop id and secret key, opened (never shown)."""
        async with reading(self._sessions) as session:
            shop = await session.get(Shop, shop_id)
            settings = (shop.settings or {}) if shop else {}
        if not takes_yookassa(settings):
            return None
        return str(settings[YOOKASSA]), self._vault.open(settings[YOOKASSA_KEY])

    async def telegram_token(self, shop_id: int) -> str | None:
        """The shop's provider token, opened, for sending an invoice (never shown)."""
        async with reading(self._sessions) as session:
            shop = await session.get(Shop, shop_id)
            sealed = (shop.settings or {}).get(TELEGRAM_TOKEN) if shop else None
        return self._vault.open(sealed) if sealed else None


def takes_yookassa(settings: Mapping[str, Any] | None) -> bool:
    settings = settings or {}
    return bool(settings.get(YOOKASSA) and settings.get(YOOKASSA_KEY))


def takes_telegram_payments(settings: Mapping[str, Any] | None) -> bool:
    """Whether the shop set a provider token: its buyers get a "Pay" button."""
    return bool((settings or {}).get(TELEGRAM_TOKEN))


def _setup(shop: Shop) -> PaymentSetup:
    settings = shop.settings or {}
    return PaymentSetup(
        shop_id=shop.id,
        shop_language=shop.language,
        instructions=instructions_by_language(settings),
        bank=bank_lines(settings, shop.language),
        telegram_payments=takes_telegram_payments(settings),
        yookassa=takes_yookassa(settings),
    )
