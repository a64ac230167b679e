"""Creating a shop from Telegram end to end (C1): every step, bad answers asked again,
cancelling midway, and the shop, its owner and its API token in the database afterwards."""

from __future__ import annotations

import re

from sqlalchemy import select

from handlers.telegram.onboarding import OnboardAct, OnboardCB
from services.shops.auth import hash_token
from storage.models import ApiToken
from tests.e2e.chats import bot_texts as texts
from tests.e2e.chats import labels as buttons
from tests.e2e.shops import db_user


async def named_a_shop(tg):
    """Olga, who has no shop, having sent /newshop and a shop's name: at the e-mail question."""
    olga = tg.emulator.user("Olga", language_code="en")
    await tg.say(olga, "/newshop")
    await tg.say(olga, "Cats")
    return olga


async def test_a_shop_is_created_step_by_step_with_bad_answers_asked_again(tg):
    # given a person who has no shop
    olga = tg.emulator.user("Olga", username="olga", language_code="en")
    await tg.say(olga, "/start")
    menu = tg.last(olga)
    assert buttons(tg, menu) == ["🏪 Create a shop"]

    # when she goes through the conversation, answering some steps wrongly first
    await tg.tap(olga, menu, text="🏪 Create a shop")
    assert "1/6" in tg.last(olga).text
    await tg.say(olga, "x" * 129)
    assert tg.last(olga).text == "A shop's name is 1 to 128 characters. Send the name again."
    await tg.say(olga, "  Cats   & Dogs ")

    assert "2/6" in tg.last(olga).text
    await tg.say(olga, "shop at example")
    assert tg.last(olga).text.startswith("That is not an e-mail address")
    await tg.say(olga, "shop@example.com")

    question = tg.last(olga)
    assert "3/6" in question.text
    assert buttons(tg, question) == ["Russia", "Ukraine", "Kazakhstan", "Belarus", "✖️ Cancel"]
    await tg.say(olga, "XQ")
    assert tg.last(olga).text.startswith("«XQ» is not a country code")
    await tg.tap_offered(olga, "Kazakhstan")

    question = tg.last(olga)
    assert "4/6" in question.text and "Kazakhstan" in question.text
    assert "Asia/Almaty" in buttons(tg, question)
    await tg.say(olga, "Mars/Olympus")
    assert tg.last(olga).text.startswith("«Mars/Olympus» is not a time zone")
    await tg.say(olga, "asia/almaty")  # typed in lower case on a phone

    question = tg.last(olga)
    assert "5/6" in question.text and "Asia/Almaty" in question.text
    assert buttons(tg, question) == ["KZT", "USD", "EUR", "✖️ Cancel"]
    await tg.say(olga, "RUR")  # the Soviet rouble: no longer in use
    assert tg.last(olga).text.startswith("«RUR» is not a currency code in use")
    await tg.tap_offered(olga, "KZT")

    question = tg.last(olga)
    assert "6/6" in question.text
    assert buttons(tg, question) == [
        "Marketplace",
        "Order stages",
        "Platform",
        "Reseller",
        "✖️ Cancel",
    ]
    assert "income reserved on payment" in question.text  # each preset explained in a line
    await tg.say(olga, "stages")
    assert tg.last(olga).text == "Choose the workflow with one of the buttons."
    await tg.tap(olga, question, text="Order stages")

    summary = tg.last(olga)
    for shown in ("Cats & Dogs", "shop@example.com", "Kazakhstan", "Asia/Almaty", "KZT"):
        assert shown in summary.text
    assert buttons(tg, summary) == ["✅ Create", "✖️ Cancel"]
    await tg.tap(olga, summary, text="✅ Create")

    # then the shop exists with every answer, Olga owns it and works in it now
    user = await db_user(tg, olga)
    [membership] = await tg.container.users.memberships(user.id)
    shop = membership.shop
    assert membership.roles == {"owner"}
    assert (shop.name, shop.email, shop.country, shop.timezone, shop.currency) == (
        "Cats & Dogs",
        "shop@example.com",
        "KZ",
        "Asia/Almaty",
        "KZT",
    )
    assert (shop.workflow_code, shop.language) == ("stages", "en")
    assert (await tg.container.users.current_shop(user.id)).shop.id == shop.id
    # and the token, shown once, is the storefront's working key
    token_message = tg.emulator.messages(olga)[-2]
    assert "keep it secret" in token_message.text
    token = re.search(r"\n(\S{20,})\n", token_message.text).group(1)
    async with tg.container.sessions() as session:
        stored = await session.scalar(select(ApiToken).where(ApiToken.shop_id == shop.id))
    assert stored.token_hash == hash_token(token)
    assert token not in stored.token_hash
    # and the main menu of the new shop follows, with the owner's buttons
    menu = tg.last(olga)
    assert "Cats & Dogs" in menu.text
    assert {"⚙️ Settings", "👥 Staff"} <= set(buttons(tg, menu))
    assert not buttons(tg, summary)  # "Create" cannot be tapped twice


async def test_a_second_create_tap_makes_no_second_shop(tg):
    olga = await named_a_shop(tg)
    await tg.tap_offered(olga, "Skip")
    await tg.say(olga, "de")  # another country, typed
    assert "Europe/Berlin" in buttons(tg, tg.last(olga))
    await tg.tap_offered(olga, "Europe/Berlin")
    await tg.tap_offered(olga, "EUR")
    await tg.tap_offered(olga, "Marketplace")
    summary = tg.last(olga)
    assert "E-mail: none" in summary.text
    await tg.tap(olga, summary, text="✅ Create")

    # when an old client sends "Create" again
    query = tg.emulator.forged_tap(olga, summary, OnboardCB(act=OnboardAct.CREATE).pack())
    await tg.settle()

    # then it is told so, and there is still one shop
    answer = tg.emulator.callback_answer(query)
    assert answer.text == "This conversation is over. Start again: /newshop"
    user = await db_user(tg, olga)
    [membership] = await tg.container.users.memberships(user.id)
    assert (membership.shop.country, membership.shop.email) == ("DE", None)


async def test_onboarding_can_be_cancelled_midway(tg):
    # given she answered two questions
    olga = await named_a_shop(tg)
    await tg.say(olga, "cats@example.com")
    # when she taps Cancel on the country question
    await tg.tap_offered(olga, "✖️ Cancel")
    # then the question says so, the menu is back, and nothing was created
    assert "Cancelled: no shop was created." in texts(tg, olga)
    assert buttons(tg, tg.last(olga)) == ["🏪 Create a shop"]
    # and what she types now is not taken as an answer
    await tg.say(olga, "RU")
    assert "I did not understand" in tg.last(olga).text
    user = await db_user(tg, olga)
    assert await tg.container.users.memberships(user.id) == []


async def test_the_cancel_command_ends_the_conversation_too(tg):
    olga = await named_a_shop(tg)
    await tg.tap_offered(olga, "Skip")
    await tg.tap_offered(olga, "Russia")
    await tg.say(olga, "/cancel")
    assert "Cancelled: no shop was created." in texts(tg, olga)
    await tg.say(olga, "Europe/Moscow")
    user = await db_user(tg, olga)
    assert await tg.container.users.memberships(user.id) == []


async def test_an_owner_creates_a_second_shop_and_switches_between_them(tg):
    olga = tg.emulator.user("Olga", language_code="en")
    user = await db_user(tg, olga)
    await tg.container.shops.create_shop(name="First", owner_telegram_id=olga.id)
    await tg.say(olga, "/newshop")
    await tg.say(olga, "Second")
    await tg.tap_offered(olga, "Skip")
    await tg.tap_offered(olga, "Ukraine")
    await tg.tap_offered(olga, "Europe/Kyiv")
    await tg.tap_offered(olga, "UAH")
    await tg.tap_offered(olga, "Platform")
    await tg.tap_offered(olga, "✅ Create")
    # then she works in the new shop, and the menu offers switching
    menu = tg.last(olga)
    assert "Second" in menu.text and "🔀 Switch shop" in buttons(tg, menu)
    assert (await tg.container.users.current_shop(user.id)).shop.name == "Second"
    # when she switches back to the first
    await tg.tap(olga, menu, text="🔀 Switch shop")
    assert buttons(tg, menu) == ["First (owner)", "✅ Second (owner)", "🏠 Menu"]
    await tg.tap(olga, menu, text="First (owner)")
    assert "First" in menu.text
    assert (await tg.container.users.current_shop(user.id)).shop.name == "First"
