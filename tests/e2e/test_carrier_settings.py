"""A shop's carrier accounts in /settings (issue 18), end to end through the emulator: each
credential asked for in turn, deleted from the chat once read, sealed in the database; a
blank one refused with nothing kept; other staff kept out."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import CarrierAccount
from tests.e2e.chats import labels, message_starting, open_settings
from tests.e2e.shops import ShopRecipe, open_shop

SHOP = ShopRecipe(preset="platform")
SECRETS = ["shop-client-7", "very-secret-key"]


async def test_connecting_cdek_keeps_its_credentials_out_of_the_chat(tg):
    shop = await open_shop(tg, SHOP)
    menu = await open_settings(tg, shop.owner)
    await tg.tap(shop.owner, menu, text="🚚 Carriers")
    screen = await tg.offering(shop.owner, "➕ CDEK")
    assert "CDEK: not connected" in screen.text

    # a blank credential is refused and nothing is kept
    await tg.tap(shop.owner, screen, text="➕ CDEK")
    assert "1 of 2" in screen.text and "client_id" in screen.text
    await tg.say(shop.owner, SECRETS[0])
    await tg.say(shop.owner, "   ")
    assert "Not saved" in message_starting(tg, shop.owner, "Not saved").text
    async with tg.container.sessions() as session:
        assert await session.scalar(select(CarrierAccount)) is None

    # both given: connected, each message deleted once read, the values sealed
    await tg.tap_offered(shop.owner, "↩️ Back")
    await tg.tap_offered(shop.owner, "➕ CDEK")
    for secret in SECRETS:
        await tg.say(shop.owner, secret)
    done = message_starting(tg, shop.owner, "✅ CDEK is connected.")
    assert "CDEK: connected" in done.text
    assert "🗑 CDEK" in labels(tg, done)
    typed = [m for m in tg.emulator.messages(shop.owner) if (m.text or "") in SECRETS]
    assert len(typed) == 3 and all(m.deleted for m in typed)
    shown = [m.text or "" for m in tg.emulator.messages(shop.owner) if not m.deleted]
    assert not any(secret in text for text in shown for secret in SECRETS)
    async with tg.container.sessions() as session:
        account = await session.scalar(select(CarrierAccount))
    assert account.carrier == "cdek"
    assert not any(secret in account.credentials for secret in SECRETS)
    opened = json.loads(tg.container.vault.open(account.credentials))
    assert opened == {"client_id": SECRETS[0], "client_secret": SECRETS[1]}

    # a manager cannot open the screen nor remove the account
    # (forged data on any message of the manager's own chat)
    own = tg.last(shop.manager)
    query = await tg.forged_tap(shop.manager, own, f"cr:m:{shop.id}:")
    assert tg.answer(query) == "You may not do this."
    query = await tg.forged_tap(shop.manager, own, f"cr:d:{shop.id}:cdek")
    assert tg.answer(query) == "You may not do this."
    async with tg.container.sessions() as session:
        assert await session.scalar(select(CarrierAccount.carrier)) == "cdek"

    # the owner removes it
    await tg.tap(shop.owner, done, text="🗑 CDEK")
    async with tg.container.sessions() as session:
        assert await session.scalar(select(CarrierAccount)) is None
