"""Where a shop's status-change webhooks go and the secret they are signed with (G1).

Both live in `shop.settings` ("webhook_url", "webhook_secret"). The secret has to be kept as
it is (the pump signs with it), so it is shown once when made and never displayed again.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.outside.addresses import inward_host
from services.refusals import Reason, Refused, invalid
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from storage.database import reading
from storage.models import Shop

URL_KEY, SECRET_KEY = "webhook_url", "webhook_secret"
MAX_URL_LENGTH = 500
CLEAR = "-"


@dataclass(frozen=True)
class WebhookConfig:
    url: str | None
    has_secret: bool


def webhook_of(settings: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The webhook URL and signing secret in a shop's settings, as the pump needs them."""
    settings = settings or {}
    return settings.get(URL_KEY) or None, settings.get(SECRET_KEY) or None


def check_url(text: str, *, allow_private: bool = False) -> str:
    url = text.strip()
    if len(url) > MAX_URL_LENGTH:
        raise invalid("webhook_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise invalid("webhook_url", "an http:// or https:// URL is needed")
    if not allow_private and _inward(parts.hostname):
        # A shop admin must not make the bot call into its own network (SSRF).
        raise Refused(
            Reason.INVALID,
            "a public address is needed, not a local or private one",
            {"field": "webhook_url", "inward": True},
        )
    return url


def _inward(host: str) -> bool:
    """localhost, or a number in any form that is not a public address. (A name resolving
    inward is refused when the pump connects: bot/guarded.py.)"""
    return inward_host(host)


class WebhookSettings:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        allow_private: bool = False,  # a storefront on the bot's own host or network
    ):
        self._allow_private = allow_private
        self._sessions = sessions
        self._clock = clock

    async def get(self, shop_id: int, user_id: int | None = None) -> WebhookConfig:
        async with reading(self._sessions) as session:
            shop = await self._shop(session, shop_id, user_id)
            url, secret = webhook_of(shop.settings)
            return WebhookConfig(url, secret is not None)

    async def set_url(self, shop_id: int, text: str, *, user_id: int | None = None) -> str | None:
        """Set the URL ("-": no webhooks). The first URL comes with a secret, made here;
        returns the new secret when one was made (to be shown once), else None."""
        url = None if text.strip() == CLEAR else check_url(text, allow_private=self._allow_private)
        async with self._sessions() as session, session.begin():
            shop = await self._shop(session, shop_id, user_id)
            settings = dict(shop.settings or {})
            made = None
            if url is None:
                settings.pop(URL_KEY, None)
            else:
                settings[URL_KEY] = url
                if not settings.get(SECRET_KEY):
                    made = settings[SECRET_KEY] = new_secret()
            shop.settings = settings
            return made

    async def regenerate_secret(self, shop_id: int, *, user_id: int | None = None) -> str:
        """A new signing secret; the old one stops working at once."""
        async with self._sessions() as session, session.begin():
            shop = await self._shop(session, shop_id, user_id)
            secret = new_secret()
            shop.settings = {**(shop.settings or {}), SECRET_KEY: secret}
            return secret

    async def _shop(self, session: AsyncSession, shop_id: int, user_id: int | None) -> Shop:
        if user_id is not None:
            await require_supervisor(session, shop_id, user_id)
        shop = await session.get(Shop, shop_id)
        if shop is None:
            raise Refused(Reason.NOT_FOUND, "no such shop")
        return shop


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes: the Standard Webhooks form of a secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
