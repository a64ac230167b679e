"""People the bot knows: their profile, their language, the shops they work in."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from services.refusals import Reason, Refused
from services.shops.staff import StaffService
from services.shops.users import Membership, UserService
from storage.models import User
from tests.factories import make_shop


@pytest.fixture
def users(services) -> UserService:
    return UserService(services.sessions, services.clock)


async def refusal(awaitable) -> Refused:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value


async def test_touch_creates_a_user_and_keeps_the_name_current(services, users):
    # given a person seen for the first time
    first = await users.touch(42, name="Anna", username="anna")
    assert (first.telegram_id, first.name, first.username) == (42, "Anna", "anna")
    assert first.created_at == services.clock.now()

    # when they change their Telegram name and drop the username
    again = await users.touch(42, name="Anna K.", username=None)

    # then it is the same person, with the new name
    assert again.id == first.id
    assert (again.name, again.username) == ("Anna K.", None)


async def test_touch_never_overwrites_the_chosen_language(services, users):
    # given a person who chose Ukrainian
    user = await users.touch(43, name="Taras")
    await users.set_language(user.id, "uk")
    # when they come back
    again = await users.touch(43, name="Taras")
    # then the language stays theirs
    assert again.language == "uk"


async def test_touch_cuts_overlong_names(services, users):
    # when a name longer than the column arrives
    user = await users.touch(44, name="N" * 200, username="u" * 100)
    # then it is stored cut, not refused: the person must still be served
    assert (len(user.name), len(user.username)) == (128, 64)


async def test_first_updates_arriving_together_create_one_user(services, users):
    # when two updates of a new person are handled at once
    both = await asyncio.gather(users.touch(45, name="Olga"), users.touch(45, name="Olga"))
    # then there is one user
    assert both[0].id == both[1].id
    async with services.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.telegram_id == 45)
        )
    assert count == 1


async def test_set_language(services, users):
    # given
    user = await users.touch(46, name="John")
    # when
    chosen = await users.set_language(user.id, "en")
    # then
    assert chosen.language == "en"
    async with services.sessions() as session:
        assert (await session.get(User, user.id)).language == "en"


async def test_set_language_refuses_other_languages(services, users):
    # given
    user = await users.touch(47, name="Hans")
    # when
    refused = await refusal(users.set_language(user.id, "de"))
    # then
    assert (refused.code, refused.params) == (Reason.INVALID, {"field": "language"})
    async with services.sessions() as session:
        assert (await session.get(User, user.id)).language is None


async def test_set_language_of_an_unknown_user(services, users):
    # when
    refused = await refusal(users.set_language(999_999, "en"))
    # then
    assert refused.code == Reason.NOT_FOUND


async def test_memberships_are_ordered_by_shop_name(services, users):
    # given a person who owns "Zeta" and "Alpha" and is a packer in a third shop
    zeta = await services.shops.create_shop(name="Zeta", owner_telegram_id=48)
    alpha = await services.shops.create_shop(name="Alpha", owner_telegram_id=48)
    other = await make_shop(services)
    await services.shops.add_staff(other.id, 48, "packer")
    await services.shops.add_staff(other.id, 48, "courier")

    # when
    memberships = await users.memberships(zeta.owner.id)

    # then
    assert [(m.shop.name, m.roles) for m in memberships] == [
        ("Alpha", {"owner"}),
        ("Shop marketplace", {"packer", "courier"}),
        ("Zeta", {"owner"}),
    ]
    assert memberships[0].shop.id == alpha.shop.id
    assert memberships[0].is_supervisor and not memberships[1].is_supervisor


async def test_a_stranger_has_no_shop(services, users):
    # given a person known to the bot who works nowhere
    shop = await make_shop(services)
    # then
    assert await users.memberships(shop.stranger.id) == []
    assert await users.current_shop(shop.stranger.id) is None


async def test_current_shop_is_the_first_until_one_is_chosen(services, users):
    # given a person in two shops
    zeta = await services.shops.create_shop(name="Zeta", owner_telegram_id=49)
    alpha = await services.shops.create_shop(name="Alpha", owner_telegram_id=49)
    user_id = zeta.owner.id
    assert (await users.current_shop(user_id)).shop.id == alpha.shop.id

    # when they switch to Zeta
    switched = await users.switch_shop(user_id, zeta.shop.id)

    # then Zeta is their shop from now on
    assert isinstance(switched, Membership)
    assert switched.shop.id == zeta.shop.id
    current = await users.current_shop(user_id)
    assert (current.shop.id, current.roles) == (zeta.shop.id, {"owner"})


async def test_current_shop_falls_back_when_they_leave_the_chosen_one(services, users):
    # given a packer who chose the shop they work in as their current one
    shop = await make_shop(services)
    own = await services.shops.create_shop(name="Own", owner_telegram_id=shop.packer.telegram_id)
    await users.switch_shop(shop.packer.id, shop.id)

    # when the owner removes them from that shop
    await StaffService(services.sessions, services.clock).remove(
        shop.id, shop.owner.id, shop.packer.id
    )

    # then their current shop is the one they still work in
    assert (await users.current_shop(shop.packer.id)).shop.id == own.shop.id


async def test_switching_to_a_shop_one_does_not_work_in_is_refused(services, users):
    # given a packer of one shop and another shop
    shop = await make_shop(services)
    other = await make_shop(services)
    # when
    refused = await refusal(users.switch_shop(shop.packer.id, other.id))
    # then nothing changed
    assert refused.code == Reason.NOT_FOUND
    async with services.sessions() as session:
        assert (await session.get(User, shop.packer.id)).current_shop_id is None
