"""Shop settings from Telegram end to end (C1, C2): every field through the menu, bad values
asked again, the preset switch and responsible roles as new workflow versions, switching
shops, and people who may not change settings changing nothing."""

from __future__ import annotations

from handlers.telegram.shop_settings import SettingsAct, SettingsCB, ShopCB
from services.orders.actors import ActorRef
from tests.e2e.chats import labels as buttons
from tests.e2e.chats import open_settings
from tests.e2e.shops import ShopRecipe, db_user, open_shop, place_order
from tests.factories import item

SHOP = ShopRecipe(language="en")


async def view(tg, shop_id, person):
    return await tg.container.shop_settings.get(shop_id, (await db_user(tg, person)).id)


async def test_the_menu_lists_every_setting_with_its_value(tg):
    _shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    for shown in (
        "Settings of Cats & Dogs",
        "Name: Cats & Dogs",
        "Time zone: Europe/Moscow",
        "Country: Russia (RU)",
        "Currency: RUB",
        "Working hours: mon-fri 09:00-20:00",
        "Workflow: Marketplace, version 1",
        "Auto-cancel past the time limit: off",
        "Staff group: none",
    ):
        assert shown in menu.text
    assert {"Working hours", "Workflow", "👤 Responsible staff per status"} <= set(
        buttons(tg, menu)
    )


async def test_working_hours_are_edited_and_a_bad_value_is_asked_again(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    # when the owner taps "Working hours" and types an impossible time
    await tg.tap(owner, menu, text="Working hours")
    assert "mon-fri 09:00-20:00, sat 10:00-16:00" in menu.text  # the example
    await tg.say(owner, "mon-fri 09:00-25:00")
    # then it is refused, naming the problem, and nothing changed
    refusal = tg.last(owner)
    assert refusal.text.startswith("Not saved: bad time '25:00'")
    assert (await view(tg, shop_id, owner)).shop.working_hours["mon"] == ["09:00", "20:00"]
    # when the owner types a good value right away (still the same question)
    await tg.say(owner, "пн-пт 10:00-19:00, сб 11:00-15:00")
    # then it is saved and the menu shows it
    shop = (await view(tg, shop_id, owner)).shop
    assert shop.working_hours == {
        **{day: ["10:00", "19:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["11:00", "15:00"],
    }
    assert "Working hours: mon-fri 10:00-19:00, sat 11:00-15:00" in tg.last(owner).text
    # and what the owner types afterwards is not taken as a setting
    await tg.say(owner, "mon 01:00-02:00")
    assert (await view(tg, shop_id, owner)).shop.working_hours["mon"] == ["10:00", "19:00"]


async def test_text_settings_are_saved_through_the_menu(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    steps = [
        ("Name", "Cats, Dogs & Co"),
        ("E-mail", "hello@cats.example"),
        ("Time zone", "asia/yekaterinburg"),
        ("Currency", "usd"),
        ("Days off", "2026-12-31, 2027-01-02"),
        ("Delivery prices", "courier 350.50"),
    ]
    for button, value in steps:
        await tg.tap(owner, menu, text=button)
        await tg.say(owner, value)
        assert tg.emulator.messages(owner)[-2].text.startswith("Saved: ")
        menu = tg.last(owner)
    shop = (await view(tg, shop_id, owner)).shop
    assert (shop.name, shop.email, shop.timezone, shop.currency) == (
        "Cats, Dogs & Co",
        "hello@cats.example",
        "Asia/Yekaterinburg",
        "USD",
    )
    assert shop.days_off == ["2026-12-31", "2027-01-02"]
    assert shop.settings["delivery_prices"] == {"courier": 35050}
    # «-» clears a setting that may be empty
    await tg.tap(owner, menu, text="E-mail")
    await tg.say(owner, "-")
    assert (await view(tg, shop_id, owner)).shop.email is None


async def test_closed_lists_are_buttons(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="Auto-cancel past the time limit")
    assert buttons(tg, menu) == ["Cancel automatically", "Only flag and alert", "↩️ Back"]
    await tg.tap(owner, menu, text="Cancel automatically")
    await tg.tap(owner, menu, text="Language")
    await tg.tap(owner, menu, text="Українська")
    await tg.tap(owner, menu, text="Country")
    assert "Kazakhstan" in buttons(tg, menu)
    await tg.say(owner, "xx")  # typed: not a country
    assert "Not saved: unknown country 'xx'" in tg.last(owner).text
    await tg.tap(owner, menu, text="Kazakhstan")
    shop = (await view(tg, shop_id, owner)).shop
    assert (shop.settings["sla_auto_cancel"], shop.language, shop.country) == (True, "uk", "KZ")
    assert "Auto-cancel past the time limit: on" in menu.text


async def test_switching_the_preset_makes_a_new_workflow_version(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    # given an order under way on the first version
    order = await place_order(tg, shop_id, item("CAT-1", 1, 100_00))
    menu = await open_settings(tg, owner)
    # when the owner picks another workflow
    await tg.tap(owner, menu, text="Workflow")
    assert buttons(tg, menu) == ["Marketplace", "Order stages", "Platform", "Reseller", "↩️ Back"]
    await tg.tap(owner, menu, text="Platform")
    # then new orders start on a new version of the shop's workflow
    settings = await view(tg, shop_id, owner)
    assert (settings.shop.workflow_code, settings.workflow.code) == ("platform", "platform")
    assert settings.workflow_version == 2
    assert "Workflow: Platform, version 2" in menu.text
    # and the order under way keeps the version it started with
    kept = await tg.container.orders.get(order.id, ActorRef.system())
    assert kept.workflow_id == order.workflow_id


async def test_the_responsible_role_of_a_status_is_changed(tg):
    shop_id, owner, _ = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="👤 Responsible staff per status")
    assert "Awaiting confirmation: manager" in menu.text
    assert "Received" not in menu.text  # final statuses are nobody's work
    await tg.tap(owner, menu, text="Awaiting confirmation: manager")
    assert menu.text == "Who works orders in «Awaiting confirmation»?"
    assert "nobody" in buttons(tg, menu)
    query = await tg.tap(owner, menu, text="packer")
    assert tg.emulator.callback_answer(query).text.startswith("Saved.")
    await tg.tap(owner, menu, text="Awaiting payment: accountant")
    await tg.tap(owner, menu, text="nobody")
    settings = await view(tg, shop_id, owner)
    assert settings.workflow.status("awaiting_confirmation").responsible == "packer"
    assert settings.workflow.status("awaiting_payment").responsible is None
    assert settings.workflow_version == 3  # each change is a version of its own
    assert "Awaiting confirmation: packer" in menu.text
    assert "Awaiting payment: nobody" in menu.text


async def test_a_manager_gets_no_settings(tg):
    shop_id, owner, manager = await open_shop(tg, SHOP)
    # the menu does not offer them
    assert "⚙️ Settings" not in buttons(tg, tg.last(manager))
    # and the command says why
    await tg.say(manager, "/settings")
    assert tg.last(manager).text == "You may not do this."
    # and a forged button changes nothing
    forged = SettingsCB(act=SettingsAct.SET, shop=shop_id, arg="name", x="Mine").pack()
    query = tg.emulator.forged_tap(manager, tg.last(manager), forged)
    await tg.settle()
    assert tg.emulator.callback_answer(query).text == "You may not do this."
    assert (await view(tg, shop_id, owner)).shop.name == "Cats & Dogs"


async def test_staff_of_another_shop_cannot_open_or_change_these_settings(tg):
    # given two shops; Ivan owns the other one
    shop_id, owner, _ = await open_shop(tg, SHOP)
    ivan = tg.emulator.user("Ivan", language_code="en")
    await tg.container.shops.create_shop(name="Ivan's", owner_telegram_id=ivan.id)
    await tg.say(ivan, "/start")
    screen = tg.last(ivan)
    before = await view(tg, shop_id, owner)
    # when Ivan's client forges buttons of Olga's shop's settings
    forged = [
        SettingsCB(act=SettingsAct.MENU, shop=shop_id),
        SettingsCB(act=SettingsAct.FIELD, shop=shop_id, arg="working_hours"),
        SettingsCB(act=SettingsAct.SET, shop=shop_id, arg="preset", x="reseller"),
        SettingsCB(act=SettingsAct.SET, shop=shop_id, arg="email", x=""),
        SettingsCB(act=SettingsAct.ROLE, shop=shop_id, arg="awaiting_confirmation", x="-"),
        SettingsCB(act=SettingsAct.UNBIND, shop=shop_id),
        ShopCB(shop=shop_id),
    ]
    for data in forged:
        query = tg.emulator.forged_tap(ivan, screen, data.pack())
        await tg.settle()
        # then each is answered as if the shop did not exist
        assert tg.emulator.callback_answer(query).text == "Not found.", data
    # and nothing changed: settings, workflow, Ivan's current shop, Ivan's screen
    after = await view(tg, shop_id, owner)
    assert (after.shop.email, after.shop.workflow_code, after.workflow_version) == (
        before.shop.email,
        before.shop.workflow_code,
        before.workflow_version,
    )
    ivan_user = await db_user(tg, ivan)
    assert (await tg.container.users.current_shop(ivan_user.id)).shop.name == "Ivan's"
    assert "Cats" not in screen.text
    # and a typed value after a forged "edit" question is not saved either
    await tg.say(ivan, "mon 01:00-02:00")
    assert (await view(tg, shop_id, owner)).shop.working_hours["mon"] == ["09:00", "20:00"]


async def test_shops_command_switches_the_current_shop(tg):
    shop_id, _owner, manager = await open_shop(tg, SHOP)
    other = await tg.container.shops.create_shop(name="Another", owner_telegram_id=manager.id)
    await tg.say(manager, "/shops")
    screen = tg.last(manager)
    # (never chosen yet: the first by name is current)
    assert buttons(tg, screen) == ["✅ Another (owner)", "Cats & Dogs (manager)", "🏠 Menu"]
    query = await tg.tap(manager, screen, text="Cats & Dogs (manager)")
    assert tg.emulator.callback_answer(query).text == "Now working in Cats & Dogs"
    manager_user = await db_user(tg, manager)
    assert (await tg.container.users.current_shop(manager_user.id)).shop.id == shop_id
    assert "⚙️ Settings" not in buttons(tg, screen)  # the manager's menu of this shop
    await tg.tap(manager, screen, text="🔀 Switch shop")
    await tg.tap(manager, screen, text="Another (owner)")
    assert (await tg.container.users.current_shop(manager_user.id)).shop.id == other.shop.id
    assert "⚙️ Settings" in buttons(tg, screen)  # the owner's menu of the other shop


async def test_the_owner_chooses_how_long_buyers_data_is_kept(tg):
    # given the default: three years after an order closes
    shop_id, owner, _manager = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    assert "Buyers' data kept: 3 years after closing" in menu.text
    # when the owner picks one year from the list
    await tg.tap(owner, menu, text="Buyers' data kept")
    question = tg.last(owner)
    assert "How long after an order is closed" in question.text
    assert buttons(tg, question)[:5] == [
        "3 months after closing",
        "6 months after closing",
        "1 year after closing",
        "3 years after closing",
        "until the buyer asks to be forgotten",
    ]
    await tg.tap(owner, question, text="1 year after closing")
    # then it is saved, and the daily job will use it
    assert "Buyers' data kept: 1 year after closing" in tg.last(owner).text
    shop = (await view(tg, shop_id, owner)).shop
    assert shop.settings["personal_data_retention_days"] == 365
    # and a forged value changes nothing
    forged = SettingsCB(
        act=SettingsAct.SET, shop=shop_id, arg="personal_data_retention", x="7"
    ).pack()
    await tg.forged_tap(owner, tg.last(owner), forged)
    assert (await view(tg, shop_id, owner)).shop.settings["personal_data_retention_days"] == 365


async def test_the_owner_chooses_whether_e_mails_carry_the_invoice_pdf(tg):
    # given the default: the "awaiting payment" e-mail carries the invoice PDF (SPEC E3)
    shop_id, owner, _manager = await open_shop(tg, SHOP)
    menu = await open_settings(tg, owner)
    assert "Invoice PDF attached to e-mails: on" in menu.text
    # when the owner chooses the link alone
    await tg.tap(owner, menu, text="Invoice PDF attached to e-mails")
    question = tg.last(owner)
    assert "Also attach the invoice PDF" in question.text
    assert buttons(tg, question)[:2] == ["Attach the PDF", "Only the link"]
    await tg.tap(owner, question, text="Only the link")
    # then it is saved, and the "awaiting payment" e-mails will only link to the invoice
    assert "Invoice PDF attached to e-mails: off" in tg.last(owner).text
    assert (await view(tg, shop_id, owner)).shop.settings["email_invoice_pdf"] is False
    # and a forged value changes nothing
    forged = SettingsCB(act=SettingsAct.SET, shop=shop_id, arg="email_invoice_pdf", x="maybe")
    await tg.forged_tap(owner, tg.last(owner), forged.pack())
    assert (await view(tg, shop_id, owner)).shop.settings["email_invoice_pdf"] is False
