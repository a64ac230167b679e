"""Staff (C2): invite links with a role, joining through them once, the list, removal."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.refusals import Reason, Refused
from services.shops.auth import hash_token
from services.shops.staff import Joined, StaffService
from storage.models import StaffInvite, StaffMember
from tests.factories import add_user, make_shop


@pytest.fixture
def staff(services) -> StaffService:
    return StaffService(services.sessions, services.clock)


async def refusal(awaitable) -> Refused:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value


async def invites(services, shop_id: int) -> list[StaffInvite]:
    async with services.sessions() as session:
        query = select(StaffInvite).where(StaffInvite.shop_id == shop_id)
        return list(await session.scalars(query.order_by(StaffInvite.id)))


async def role_count(services, shop_id: int, role: str) -> int:
    async with services.sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.shop_id == shop_id, StaffMember.role == role)
        )


# -- invite ------------------------------------------------------------------------------


async def test_invite_is_accepted_once_and_makes_staff(services, staff):
    # given an owner's invite for a packer
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "packer")

    # when a person who is not staff yet opens it
    joined = await staff.accept(token, shop.stranger.id)

    # then they are the shop's packer, and the invite is spent by them
    assert isinstance(joined, Joined)
    assert (joined.shop.id, joined.role) == (shop.id, "packer")
    assert await staff.roles(shop.id, shop.stranger.id) == {"packer"}
    [invite] = await invites(services, shop.id)
    assert invite.used_at == services.clock.now()
    assert invite.used_by_user_id == shop.stranger.id
    assert invite.created_by_user_id == shop.owner.id
    assert invite.expires_at == services.clock.now() + timedelta(days=2)


async def test_only_the_tokens_hash_is_stored(services, staff):
    # given
    shop = await make_shop(services)
    # when
    token = await staff.invite(shop.id, shop.owner.id, "manager")
    # then the link's token is long and random, and the database holds its hash only
    [invite] = await invites(services, shop.id)
    assert len(token) >= 22
    assert invite.token_hash == hash_token(token)
    assert token not in invite.token_hash


async def test_admin_may_invite_and_each_invite_is_new(services, staff):
    # given an admin
    shop = await make_shop(services)
    admin = await services.shops.add_staff(shop.id, 77_001, "admin")
    # when they invite twice
    first = await staff.invite(shop.id, admin.id, "admin")
    second = await staff.invite(shop.id, admin.id, "courier", ttl=timedelta(hours=1))
    # then two distinct links exist
    assert first != second
    assert [i.role for i in await invites(services, shop.id)] == ["admin", "courier"]


@pytest.mark.parametrize(
    ("who", "role", "code", "field"),
    [
        ("manager", "packer", Reason.FORBIDDEN, None),
        ("stranger", "packer", Reason.NOT_FOUND, None),
        ("owner", "owner", Reason.INVALID, "role"),
        ("owner", "wizard", Reason.INVALID, "role"),
    ],
)
async def test_invite_refusals(services, staff, who, role, code, field):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(staff.invite(shop.id, getattr(shop, who).id, role))
    # then nothing was created
    assert refused.code == code
    assert refused.params.get("field") == field
    assert await invites(services, shop.id) == []


async def test_invite_needs_a_lifetime(services, staff):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(staff.invite(shop.id, shop.owner.id, "packer", ttl=timedelta(0)))
    # then
    assert (refused.code, refused.params) == (Reason.INVALID, {"field": "ttl"})


async def test_invite_to_an_unknown_shop_is_not_found(services, staff):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(staff.invite(shop.id + 1000, shop.owner.id, "packer"))
    # then
    assert refused.code == Reason.NOT_FOUND


# -- accept --------------------------------------------------------------------------------


async def test_unknown_token_is_not_found(services, staff):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(staff.accept("no-such-token", shop.stranger.id))
    # then
    assert refused.code == Reason.NOT_FOUND


async def test_a_used_invite_cannot_be_used_again(services, staff):
    # given an invite someone accepted
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier")
    await staff.accept(token, shop.stranger.id)
    other = await add_user(services, 88_001)

    # when another person opens the same link
    refused = await refusal(staff.accept(token, other.id))

    # then it is refused and they did not join
    assert refused.code == Reason.USED
    assert await staff.roles(shop.id, other.id) == frozenset()


async def test_an_invite_expires(services, staff):
    # given an invite for two days
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier")

    # when it is opened three days later
    services.clock.advance(timedelta(days=3))
    refused = await refusal(staff.accept(token, shop.stranger.id))

    # then it has expired, stays unused, and nobody joined
    assert refused.code == Reason.EXPIRED
    assert await staff.roles(shop.id, shop.stranger.id) == frozenset()
    [invite] = await invites(services, shop.id)
    assert invite.used_at is None


async def test_an_invite_works_until_the_moment_it_expires(services, staff):
    # given
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier", ttl=timedelta(hours=1))
    services.clock.advance(timedelta(minutes=59))
    # when
    joined = await staff.accept(token, shop.stranger.id)
    # then
    assert joined.role == "courier"


async def test_accepting_a_role_one_has_leaves_the_invite_unused(services, staff):
    # given a manager invite, opened by the shop's manager by mistake
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "manager")

    # when
    refused = await refusal(staff.accept(token, shop.manager.id))

    # then they are told, and the link still works for the person it was meant for
    assert refused.code == Reason.ALREADY
    [invite] = await invites(services, shop.id)
    assert invite.used_at is None
    joined = await staff.accept(token, shop.stranger.id)
    assert joined.role == "manager"


async def test_a_second_role_joins_the_first(services, staff):
    # given
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier")
    # when
    await staff.accept(token, shop.packer.id)
    # then
    assert await staff.roles(shop.id, shop.packer.id) == {"packer", "courier"}


async def test_two_people_accepting_one_invite_at_once_one_wins(services, staff):
    # given one invite and two people who open it at the same moment
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier")
    first, second = await add_user(services, 88_101), await add_user(services, 88_102)

    # when
    outcomes = await asyncio.gather(
        staff.accept(token, first.id), staff.accept(token, second.id), return_exceptions=True
    )

    # then exactly one joined, the other was told the link is used
    joined = [o for o in outcomes if isinstance(o, Joined)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(joined) == 1
    assert [r.code for r in refused] == [Reason.USED]
    [invite] = await invites(services, shop.id)
    winner = first if outcomes[0] is joined[0] else second
    assert invite.used_by_user_id == winner.id
    couriers = {
        user.id for user in (first, second) if await staff.roles(shop.id, user.id) == {"courier"}
    }
    assert couriers == {winner.id}


async def test_one_person_tapping_an_invite_twice_at_once_joins_once(services, staff):
    # given
    shop = await make_shop(services)
    token = await staff.invite(shop.id, shop.owner.id, "courier")
    couriers_before = await role_count(services, shop.id, "courier")

    # when the same person's two taps race
    outcomes = await asyncio.gather(
        *(staff.accept(token, shop.stranger.id) for _ in range(2)), return_exceptions=True
    )

    # then one joined and one was refused
    assert sorted(type(o).__name__ for o in outcomes) == ["Joined", "Refused"]
    assert await role_count(services, shop.id, "courier") == couriers_before + 1


# -- list, roles -----------------------------------------------------------------------------


async def test_staff_list_shows_everyone_with_all_their_roles(services, staff):
    # given a packer who is a courier too
    shop = await make_shop(services)
    await services.shops.add_staff(shop.id, shop.packer.telegram_id, "courier")

    # when a packer looks at the staff
    entries = await staff.list(shop.id, shop.packer.id)

    # then everyone appears once, with all their roles
    by_user = {entry.user.id: entry.roles for entry in entries}
    assert by_user == {
        shop.owner.id: {"owner"},
        shop.manager.id: {"manager"},
        shop.packer.id: {"packer", "courier"},
        shop.courier.id: {"courier"},
        shop.accountant.id: {"accountant"},
    }


async def test_staff_list_is_for_staff_only(services, staff):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(staff.list(shop.id, shop.stranger.id))
    # then
    assert refused.code == Reason.NOT_FOUND


async def test_roles_of_a_stranger_are_empty(services, staff):
    # when
    shop = await make_shop(services)
    # then
    assert await staff.roles(shop.id, shop.stranger.id) == frozenset()
    assert await staff.roles(shop.id, shop.owner.id) == {"owner"}


# -- remove --------------------------------------------------------------------------------


async def test_owner_removes_a_member_entirely(services, staff):
    # given a packer who is a courier too
    shop = await make_shop(services)
    await services.shops.add_staff(shop.id, shop.packer.telegram_id, "courier")
    # when the owner removes them with no role named
    left = await staff.remove(shop.id, shop.owner.id, shop.packer.id)
    # then they hold no role any more
    assert left == frozenset()
    assert await staff.roles(shop.id, shop.packer.id) == frozenset()


async def test_removing_one_role_keeps_the_others(services, staff):
    # given
    shop = await make_shop(services)
    await services.shops.add_staff(shop.id, shop.packer.telegram_id, "courier")
    # when
    left = await staff.remove(shop.id, shop.owner.id, shop.packer.id, "courier")
    # then
    assert left == {"packer"}
    assert await staff.roles(shop.id, shop.packer.id) == {"packer"}


async def test_admin_removes_staff_but_not_the_owner(services, staff):
    # given an admin
    shop = await make_shop(services)
    admin = await services.shops.add_staff(shop.id, 77_002, "admin")
    # when they remove a courier, then the owner
    await staff.remove(shop.id, admin.id, shop.courier.id)
    refused = await refusal(staff.remove(shop.id, admin.id, shop.owner.id))
    # then the courier is gone and the owner stays
    assert await staff.roles(shop.id, shop.courier.id) == frozenset()
    assert refused.code == Reason.FORBIDDEN
    assert await staff.roles(shop.id, shop.owner.id) == {"owner"}


async def test_the_last_owner_cannot_be_removed(services, staff):
    # given a shop with one owner
    shop = await make_shop(services)
    # when the owner removes themselves
    refused = await refusal(staff.remove(shop.id, shop.owner.id, shop.owner.id))
    # then the shop keeps its owner
    assert refused.code == Reason.LAST_OWNER
    assert await role_count(services, shop.id, "owner") == 1


async def test_one_of_two_owners_may_leave(services, staff):
    # given a second owner
    shop = await make_shop(services)
    partner = await services.shops.add_staff(shop.id, 77_003, "owner")
    # when the first owner removes their ownership
    await staff.remove(shop.id, shop.owner.id, shop.owner.id, "owner")
    # then the partner is the last owner and cannot go
    assert await role_count(services, shop.id, "owner") == 1
    refused = await refusal(staff.remove(shop.id, partner.id, partner.id))
    assert refused.code == Reason.LAST_OWNER


async def test_two_owners_removing_each_other_at_once_leave_one(services, staff):
    # given two owners
    shop = await make_shop(services)
    partner = await services.shops.add_staff(shop.id, 77_004, "owner")
    # when each removes the other at the same moment
    outcomes = await asyncio.gather(
        staff.remove(shop.id, shop.owner.id, partner.id),
        staff.remove(shop.id, partner.id, shop.owner.id),
        return_exceptions=True,
    )
    # then one removal applied and the other was refused: the shop keeps an owner
    assert await role_count(services, shop.id, "owner") == 1
    assert [type(o) for o in outcomes].count(frozenset) == 1
    assert {o.code for o in outcomes if isinstance(o, Refused)} <= {
        Reason.LAST_OWNER,
        Reason.NOT_FOUND,
    }


@pytest.mark.parametrize(
    ("who", "member", "role", "code"),
    [
        ("manager", "packer", None, Reason.FORBIDDEN),
        ("stranger", "packer", None, Reason.NOT_FOUND),
        ("owner", "stranger", None, Reason.NOT_FOUND),
        ("owner", "packer", "courier", Reason.NOT_FOUND),
        ("owner", "packer", "wizard", Reason.INVALID),
    ],
)
async def test_remove_refusals(services, staff, who, member, role, code):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(
        staff.remove(shop.id, getattr(shop, who).id, getattr(shop, member).id, role)
    )
    # then nothing changed
    assert refused.code == code
    assert await staff.roles(shop.id, shop.packer.id) == {"packer"}
