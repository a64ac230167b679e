"""Payment instructions (issue 17) end to end: the owner writes them per language in /settings
-> "💳 Payments", and the buyer reads them, with the slip's bank details, in the
awaiting-payment message and in "How to pay"; bad input and other staff change nothing."""

from __future__ import annotations

from sqlalchemy import select

from services.refusals import Refused
from storage.models import Shop
from tests.e2e.chats import card_of, message_starting, open_settings
from tests.e2e.shops import ShopRecipe, buyer_via_link, db_user, open_shop, place_order, ref

SHOP = ShopRecipe(language="en")
BANK = (
    "recipient: Cats LLC\ninn: 7707083893\naccount: 40702810900000000001\n"
    "bank_name: Sberbank\nbic: 044525225"
)


async def settings_of(tg, shop_id):
    async with tg.container.sessions() as session:
        return (await session.scalar(select(Shop).where(Shop.id == shop_id))).settings


async def test_instructions_per_language_reach_the_buyer_with_the_bank_details(tg):
    shop_id, owner, max_ = await open_shop(tg, SHOP)
    owner_id = (await db_user(tg, owner)).id
    await tg.container.documents.set_bank_details(shop_id, owner_id, BANK)
    menu = await open_settings(tg, owner)
    # when the owner opens "💳 Payments" and writes the English instructions
    await tg.tap(owner, menu, text="💳 Payments")
    assert "How to pay (English): not set" in menu.text
    assert "Account: 40702810900000000001 at Sberbank" in menu.text
    await tg.tap(owner, menu, text="✏️ English")
    await tg.say(owner, "Card 4276 0000 1111 2222 <Sberbank>")
    screen = await tg.offering(owner, "✏️ English")
    assert "How to pay (English): Card 4276 0000 1111 2222 <Sberbank>" in screen.text
    # and the Russian ones
    await tg.tap(owner, screen, text="✏️ Русский")
    await tg.say(owner, "Карта 4276 0000 1111 2222")
    stored = (await settings_of(tg, shop_id))["payment_instructions"]
    assert stored == {
        "en": "Card 4276 0000 1111 2222 <Sberbank>",
        "ru": "Карта 4276 0000 1111 2222",
    }

    # when the shop bills an order, the buyer's awaiting-payment message says how to pay
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    await tg.container.orders.apply(order.id, await ref(tg, max_), "confirm")
    await tg.deliver()
    heading = f"Order #{order.number} at Cats & Dogs: Awaiting payment"
    [news] = [m for m in tg.emulator.messages(ivan) if m.outgoing and m.content.startswith(heading)]
    shown = news.content  # the caption of the invoice sent with it
    assert "Card 4276 0000 1111 2222 <Sberbank>" in shown
    assert "BIC: 044525225" in shown
    # and "How to pay" too
    await tg.tap(ivan, card_of(tg, ivan, order.number), text="💳 How to pay")
    how = message_starting(tg, ivan, f"How to pay for order #{order.number}")
    assert "Card 4276 0000 1111 2222 <Sberbank>" in how.text
    assert "Account: 40702810900000000001 at Sberbank" in how.text


async def test_too_long_instructions_and_other_staff_change_nothing(tg):
    shop_id, owner, max_ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="💳 Payments")
    await tg.tap(owner, menu, text="✏️ English")
    await tg.say(owner, "x" * 3001)
    assert message_starting(tg, owner, "Not saved: at most 3000 characters").text
    assert "payment_instructions" not in await settings_of(tg, shop_id)
    # a manager is no owner or admin: the screen is not theirs
    manager_id = (await db_user(tg, max_)).id
    try:
        await tg.container.payment_settings.set_instructions(shop_id, manager_id, "en", "mine")
    except Refused as refused:
        assert refused.code == "forbidden"
    else:
        raise AssertionError("a manager changed the payment instructions")
    assert "payment_instructions" not in await settings_of(tg, shop_id)


async def test_the_provider_token_is_sealed_and_never_shown(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="💳 Payments")
    assert "Telegram Payments: off" in menu.text
    await tg.tap(owner, menu, text="🔌 Telegram Payments")
    typed = await tg.say(owner, "381764678:TEST:100500")
    screen = await tg.offering(owner, "✏️ English")
    assert "Telegram Payments: on" in screen.text
    assert typed.deleted  # the secret is gone from the chat
    sealed = (await settings_of(tg, shop_id))["telegram_payments_token"]
    assert "100500" not in sealed
    assert await tg.container.payment_settings.telegram_token(shop_id) == "381764678:TEST:100500"
    assert all("100500" not in (m.text or "") for m in tg.emulator.messages(owner) if m.outgoing)


async def test_yookassa_credentials_are_sealed_and_a_bad_pair_is_asked_again(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="💳 Payments")
    assert "YooKassa: off" in menu.text
    await tg.tap(owner, menu, text="🔌 YooKassa")
    assert f"/payments/yookassa/{shop_id}" in menu.text  # where notifications are to go
    await tg.say(owner, "not-a-pair")
    assert message_starting(tg, owner, "Not saved: the shop id and the secret key").text
    assert "yookassa_shop_id" not in await settings_of(tg, shop_id)
    typed = await tg.say(owner, "506751 live_secret_42")
    screen = await tg.offering(owner, "🔌 YooKassa")
    assert "YooKassa: on" in screen.text
    assert typed.deleted
    settings = await settings_of(tg, shop_id)
    assert settings["yookassa_shop_id"] == "506751"
    assert "live_secret_42" not in settings["yookassa_secret_key"]
    assert await tg.container.payment_settings.yookassa(shop_id) == ("506751", "live_secret_42")
