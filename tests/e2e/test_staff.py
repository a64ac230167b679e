"""Staff from Telegram end to end (C2): the list, invite links that carry a role, work once
and expire, removing people with a confirmation, and binding a group chat for pings. Every
way in for someone who may not (a packer, staff of another shop, a forged button, an old or
used link) gets a clear answer and changes nothing in the database."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from handlers.telegram.staff import StaffAct, StaffCB
from storage.models import StaffInvite, StaffMember, User
from tests.e2e.chats import labels as buttons
from tests.e2e.shops import ShopRecipe, db_user, open_shop

LINK = re.compile(r"https://t\.me/(\w+)\?start=(inv_[\w-]+)")


SHOP = ShopRecipe(staff=("packer",), language="en")


async def staff_roles(tg, shop_id) -> dict[str, set[str]]:
    async with tg.container.sessions() as session:
        rows = await session.execute(
            select(User.name, StaffMember.role)
            .join(StaffMember, StaffMember.user_id == User.id)
            .where(StaffMember.shop_id == shop_id)
        )
        roles: dict[str, set[str]] = {}
        for name, role in rows:
            roles.setdefault(name, set()).add(role)
        return roles


async def invite_count(tg, shop_id) -> int:
    async with tg.container.sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(StaffInvite).where(StaffInvite.shop_id == shop_id)
        )


async def make_invite(tg, owner, role_button: str) -> str:
    """The owner makes an invite link through the staff menu; returns the deep-link payload."""
    await tg.say(owner, "/staff")
    screen = await tg.offering(owner, "➕ Invite")
    await tg.tap(owner, screen, text="➕ Invite")
    await tg.tap(owner, screen, text=role_button)
    match = LINK.search(screen.text)
    assert match, screen.text
    assert match.group(1) == tg.emulator.bot.username
    return match.group(2)


async def test_the_staff_list_shows_people_and_their_roles(tg):
    _shop_id, owner, _packer = await open_shop(tg, SHOP)
    await tg.tap_offered(owner, "👥 Staff")
    screen = tg.last(owner)
    assert "Olga (@olga): owner" in screen.text
    assert "Petr: packer" in screen.text
    assert buttons(tg, screen) == ["➕ Invite", "✖️ Remove Olga", "✖️ Remove Petr", "🏠 Menu"]


async def test_an_invite_link_makes_a_person_staff_with_its_role_once(tg):
    shop_id, owner, _packer = await open_shop(tg, SHOP)
    # when the owner invites a manager
    await tg.say(owner, "/staff")
    screen = tg.last(owner)
    await tg.tap(owner, screen, text="➕ Invite")
    assert buttons(tg, screen) == [
        "admin",
        "manager",
        "packer",
        "courier",
        "accountant",
        "↩️ Back",
    ]
    await tg.tap(owner, screen, text="manager")
    assert "works once and expires in 48 hours" in screen.text
    payload = LINK.search(screen.text).group(2)

    # and Max opens the link
    max_ = tg.emulator.user("Max", language_code="en")
    tg.emulator.start_bot(max_, payload)
    await tg.settle()

    # then Max is the shop's manager and sees its menu
    assert tg.emulator.messages(max_)[-2].text == "Welcome to Cats & Dogs! Your role: manager."
    assert "Cats & Dogs" in tg.last(max_).text
    assert (await staff_roles(tg, shop_id))["Max"] == {"manager"}

    # when Ivan opens the same link
    ivan = tg.emulator.user("Ivan", language_code="en")
    tg.emulator.start_bot(ivan, payload)
    await tg.settle()

    # then he is told it was used, and is nobody's staff
    assert tg.last(ivan).text == "This link has been used already."
    assert "Ivan" not in await staff_roles(tg, shop_id)
    ivan_user = await db_user(tg, ivan)
    assert await tg.container.users.memberships(ivan_user.id) == []


async def test_an_expired_invite_link_is_refused(tg):
    shop_id, owner, _packer = await open_shop(tg, SHOP)
    payload = await make_invite(tg, owner, "courier")
    # when the link is opened three days later
    tg.container.clock.advance(timedelta(days=3))
    kate = tg.emulator.user("Kate", language_code="en")
    tg.emulator.start_bot(kate, payload)
    await tg.settle()
    # then it is refused and changes nothing
    assert tg.last(kate).text == "This link has expired."
    assert "Kate" not in await staff_roles(tg, shop_id)


async def test_an_invite_link_still_works_just_before_48_hours(tg):
    shop_id, owner, _packer = await open_shop(tg, SHOP)
    payload = await make_invite(tg, owner, "accountant")
    tg.container.clock.advance(timedelta(hours=47, minutes=59))
    kate = tg.emulator.user("Kate", language_code="en")
    tg.emulator.start_bot(kate, payload)
    await tg.settle()
    assert (await staff_roles(tg, shop_id))["Kate"] == {"accountant"}


async def test_a_made_up_invite_link_is_refused(tg):
    shop_id, _owner, _packer = await open_shop(tg, SHOP)
    kate = tg.emulator.user("Kate", language_code="en")
    tg.emulator.start_bot(kate, "inv_" + "A" * 22)
    await tg.settle()
    assert tg.last(kate).text == "Not found."
    assert "Kate" not in await staff_roles(tg, shop_id)


async def test_a_packer_cannot_invite(tg):
    shop_id, _owner, packer = await open_shop(tg, SHOP)
    # the packer's menu has no staff button, and their list has no invite button
    assert "👥 Staff" not in buttons(tg, tg.last(packer))
    await tg.say(packer, "/staff")
    screen = tg.last(packer)
    assert "Petr: packer" in screen.text
    assert buttons(tg, screen) == ["🏠 Menu"]
    # when the packer's client forges the invite buttons
    for data in (
        StaffCB(act=StaffAct.INVITE, shop=shop_id),
        StaffCB(act=StaffAct.ROLE, shop=shop_id, role="admin"),
        StaffCB(act=StaffAct.ROLE, shop=shop_id, role="owner"),
    ):
        query = tg.emulator.forged_tap(packer, screen, data.pack())
        await tg.settle()
        # then each is refused, and no invite exists
        assert tg.emulator.callback_answer(query).text == "You may not do this."
    assert await invite_count(tg, shop_id) == 0
    assert "Petr: packer" in screen.text  # the screen was left as it was


async def test_staff_of_another_shop_cannot_see_or_change_this_staff(tg):
    shop_id, _owner, packer = await open_shop(tg, SHOP)
    ivan = tg.emulator.user("Ivan", language_code="en")
    await tg.container.shops.create_shop(name="Ivan's", owner_telegram_id=ivan.id)
    await tg.say(ivan, "/start")
    screen = tg.last(ivan)
    petr = await db_user(tg, packer)
    for data in (
        StaffCB(act=StaffAct.LIST, shop=shop_id),
        StaffCB(act=StaffAct.INVITE, shop=shop_id),
        StaffCB(act=StaffAct.ROLE, shop=shop_id, role="admin"),
        StaffCB(act=StaffAct.REMOVE, shop=shop_id, member=petr.id),
        StaffCB(act=StaffAct.SURE, shop=shop_id, member=petr.id),
    ):
        query = tg.emulator.forged_tap(ivan, screen, data.pack())
        await tg.settle()
        assert tg.emulator.callback_answer(query).text == "Not found.", data
    assert "Petr" not in screen.text and "Olga" not in screen.text
    assert await staff_roles(tg, shop_id) == {"Olga": {"owner"}, "Petr": {"packer"}}
    assert await invite_count(tg, shop_id) == 0


async def test_removing_a_person_asks_first(tg):
    shop_id, owner, packer = await open_shop(tg, SHOP)
    await tg.say(owner, "/staff")
    screen = tg.last(owner)
    await tg.tap(owner, screen, text="✖️ Remove Petr")
    # then nothing happens before the confirmation
    assert screen.text.startswith("Remove Petr (packer) from the staff?")
    assert "Petr" in await staff_roles(tg, shop_id)
    assert "orders" in tg.emulator.menu_of(packer)  # his "/" menu is the staff's
    await tg.tap(owner, screen, text="↩️ Back")
    assert "Petr" in await staff_roles(tg, shop_id)
    # when confirmed
    await tg.tap(owner, screen, text="✖️ Remove Petr")
    query = await tg.tap(owner, screen, text="✅ Yes, remove")
    # then Petr is gone from the shop and from the list
    assert tg.emulator.callback_answer(query).text == "Removed."
    assert await staff_roles(tg, shop_id) == {"Olga": {"owner"}}
    assert "Petr" not in screen.text
    petr = await db_user(tg, packer)
    assert await tg.container.users.memberships(petr.id) == []
    assert "orders" not in tg.emulator.menu_of(packer)  # no staff commands left
    # and an old confirmation tapped again is answered, not applied twice
    query = tg.emulator.forged_tap(
        owner, screen, StaffCB(act=StaffAct.SURE, shop=shop_id, member=petr.id).pack()
    )
    await tg.settle()
    assert tg.emulator.callback_answer(query).text == "Not found."


async def test_the_last_owner_cannot_remove_themselves(tg):
    shop_id, owner, _packer = await open_shop(tg, SHOP)
    await tg.say(owner, "/staff")
    screen = tg.last(owner)
    await tg.tap(owner, screen, text="✖️ Remove Olga")
    query = await tg.tap(owner, screen, text="✅ Yes, remove")
    answer = tg.emulator.callback_answer(query)
    assert answer.text == "A shop needs an owner: the last owner cannot be removed."
    assert answer.show_alert
    assert (await staff_roles(tg, shop_id))["Olga"] == {"owner"}


async def test_a_group_is_bound_by_an_owner_and_not_by_others(tg):
    shop_id, owner, packer = await open_shop(tg, SHOP)
    stranger = tg.emulator.user("Ivan", language_code="en")
    group = tg.emulator.group("Cats staff", owner, packer, stranger)
    # when the owner adds the bot to the group
    tg.emulator.add_bot_to_group(group, owner)
    await tg.settle()
    # then the bot says how to bind it
    assert "send /bind in this group" in tg.last(group).text

    # when the packer or a stranger sends /bind
    for person in (packer, stranger):
        await tg.say(person, "/bind", chat=group)
        # then each is refused, and the shop has no staff group
        assert tg.last(group).text == (
            "Only a shop's owner or admin can bind a group; this group is not bound."
        )
    settings = await tg.container.shop_settings.get(shop_id, (await db_user(tg, owner)).id)
    assert settings.shop.staff_chat_id is None

    # when the owner sends /bind
    await tg.say(owner, "/bind", chat=group)
    # then the group is the shop's staff group
    assert tg.last(group).text == "Done: this group now gets the order pings of Cats & Dogs."
    settings = await tg.container.shop_settings.get(shop_id, (await db_user(tg, owner)).id)
    assert settings.shop.staff_chat_id == group.id
    # and the settings show it
    await tg.say(owner, "/settings")
    assert "Staff group: bound" in tg.last(owner).text

    # the packer cannot unbind it either
    await tg.say(packer, "/unbind", chat=group)
    assert tg.last(group).text == "Only a shop's owner or admin can unbind a group."
    settings = await tg.container.shop_settings.get(shop_id, (await db_user(tg, owner)).id)
    assert settings.shop.staff_chat_id == group.id

    # the owner can
    await tg.say(owner, "/unbind", chat=group)
    assert tg.last(group).text == "Done: Cats & Dogs no longer sends order pings to a group."
    settings = await tg.container.shop_settings.get(shop_id, (await db_user(tg, owner)).id)
    assert settings.shop.staff_chat_id is None


async def test_bind_in_a_private_chat_explains_where_to_send_it(tg):
    _shop_id, owner, _packer = await open_shop(tg, SHOP)
    await tg.say(owner, "/bind")
    assert tg.last(owner).text.startswith("Add me to your staff group, then send /bind there")


async def test_unbind_in_another_group_leaves_the_bound_one(tg):
    shop_id, owner, packer = await open_shop(tg, SHOP)
    bound = tg.emulator.group("Cats staff", owner, packer)
    other = tg.emulator.group("Family", owner)
    for group in (bound, other):
        tg.emulator.add_bot_to_group(group, owner)
    await tg.settle()
    await tg.say(owner, "/bind", chat=bound)
    await tg.say(owner, "/unbind", chat=other)
    assert tg.last(other).text == "This group does not get the order pings of Cats & Dogs."
    settings = await tg.container.shop_settings.get(shop_id, (await db_user(tg, owner)).id)
    assert settings.shop.staff_chat_id == bound.id
