"""The "API tokens and webhook" screen from /settings, end to end through the emulator:
a token made (shown once) and revoked after a confirmation, the webhook URL and its secret;
other staff and strangers change nothing."""

from __future__ import annotations

import re

from handlers.telegram.api_tokens import TokensAct, TokensCB
from services.storefront.tokens import ApiTokenService
from services.storefront.webhook_settings import WebhookSettings
from tests.e2e.chats import labels as buttons
from tests.e2e.chats import open_settings
from tests.e2e.shops import ShopRecipe, open_shop

SHOP = ShopRecipe(language="en")


def services(tg):
    container = tg.container
    return (
        ApiTokenService(container.sessions, container.clock),
        WebhookSettings(container.sessions, container.clock),
    )


async def open_screen(tg, owner):
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🔑 API tokens and webhook")
    return menu  # edited in place into the tokens screen


async def test_a_token_is_made_shown_once_and_revoked_after_confirming(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    tokens, _ = services(tg)
    # given the screen, with the token the shop was created with
    screen = await open_screen(tg, owner)
    assert "Storefront API" in screen.text and "default" in screen.text
    assert "Webhook URL: not set" in screen.text
    # when the owner makes a token named "website"
    await tg.tap(owner, screen, text="➕ New token")
    assert "Send a name" in screen.text
    await tg.say(owner, "website")
    # then it is shown once, and it works
    shown = tg.emulator.messages(owner)[-2]
    token = re.search(r"(sbk_\S+)", shown.text).group(1)
    assert "shown only this once" in shown.text
    assert (await tokens.authenticate(token)).shop_id == shop_id
    screen = tg.last(owner)
    assert "website" in screen.text and token not in screen.text
    # when the owner taps revoke, they are asked first, and nothing happens yet
    await tg.tap(owner, screen, text="🚫 Revoke «website»")
    assert screen.text.startswith("Revoke the token «website»?")
    assert (await tokens.authenticate(token)) is not None
    # and after confirming it is revoked at once
    query = await tg.tap(owner, screen, text="🚫 Yes, revoke")
    assert tg.answer(query) == "The token «website» is revoked."
    assert await tokens.authenticate(token) is None
    assert "🚫 Revoke «website»" not in buttons(tg, screen)
    assert "revoked" in screen.text


async def test_a_blank_name_is_asked_again(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    tokens, _ = services(tg)
    screen = await open_screen(tg, owner)
    await tg.tap(owner, screen, text="➕ New token")
    await tg.say(owner, "x" * 65)
    assert tg.last(owner).text.startswith("Not saved")
    assert len(await tokens.list(shop_id)) == 1


async def test_the_webhook_url_and_its_secret(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    _, webhooks = services(tg)
    screen = await open_screen(tg, owner)
    await tg.tap(owner, screen, text="🌐 Webhook URL")
    # a bad URL is asked again and not saved
    await tg.say(owner, "ftp://shop.example.com")
    assert tg.last(owner).text.startswith("Not saved")
    assert (await webhooks.get(shop_id)).url is None
    # a good one is saved, and its signing secret is shown once
    await tg.say(owner, "https://shop.example.com/hooks/shopbot")
    shown = tg.emulator.messages(owner)[-2]
    first = re.search(r"(whsec_\S+)", shown.text).group(1)
    assert (await webhooks.get(shop_id)).url == "https://shop.example.com/hooks/shopbot"
    screen = tg.last(owner)
    assert "https://shop.example.com/hooks/shopbot" in screen.text and first not in screen.text
    # a new secret, after confirming
    await tg.tap(owner, screen, text="🔁 New signing secret")
    assert "Make a new signing secret?" in screen.text
    await tg.tap(owner, screen, text="🔁 Yes, a new secret")
    second = re.search(r"(whsec_\S+)", screen.text).group(1)
    assert second != first
    async with tg.container.sessions() as session:
        from storage.models import Shop

        assert (await session.get(Shop, shop_id)).settings["webhook_secret"] == second


async def test_other_staff_and_strangers_change_nothing(tg):
    shop_id, _owner, manager = await open_shop(tg, SHOP)
    tokens, webhooks = services(tg)
    stranger = tg.emulator.user("Ivan", username="ivan", language_code="en")
    await tg.say(stranger, "/start")
    [default] = await tokens.list(shop_id)
    for person, refusal in ((manager, "You may not do this."), (stranger, "Not found.")):
        screen = tg.last(person)
        for act in TokensAct:
            data = TokensCB(act=act, shop=shop_id, token=default.id).pack()
            query = await tg.forged_tap(person, screen, data)
            assert tg.answer(query) == refusal, (person.first_name, act)
        # a typed value after a forged question goes nowhere
        await tg.say(person, "https://evil.example.com/")
    assert [t.active for t in await tokens.list(shop_id)] == [True]
    assert (await webhooks.get(shop_id)).url is None
