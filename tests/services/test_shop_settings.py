"""A shop's settings (C1) and responsible roles (C2), set by its owner and admins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.orders.actors import ActorRef
from services.refusals import Reason, Refused
from services.shops.settings import (
    ShopSettingsService,
    format_working_hours,
    parse_days_off,
    parse_working_hours,
)
from storage.models import Shop, WorkflowDefinition
from tests.factories import make_order, make_shop

NINE_TO_EIGHT = ["09:00", "20:00"]
EXAMPLE = "write e.g. 'mon-fri 09:00-20:00, sat 10:00-16:00, sun off'"
COUNTRIES = "use a two-letter ISO code with a holiday calendar, like RU or UA"
SETTINGS = (
    "name, email, timezone, country, currency, language, working_hours, days_off, preset, "
    "sla_auto_cancel, delivery_price, commission_kind, commission_percent, late_cancel_fee, "
    "personal_data_retention, email_invoice_pdf"
)


@pytest.fixture
def settings(services) -> ShopSettingsService:
    return ShopSettingsService(services.sessions, services.clock, services.workflows)


async def refusal(awaitable) -> Refused:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value


async def shop_row(services, shop_id: int) -> Shop:
    async with services.sessions() as session:
        return await session.get(Shop, shop_id)


async def versions(services, shop_id: int) -> list[WorkflowDefinition]:
    async with services.sessions() as session:
        query = select(WorkflowDefinition).where(WorkflowDefinition.shop_id == shop_id)
        return list(await session.scalars(query.order_by(WorkflowDefinition.version)))


# -- parse_working_hours: pure ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-20:00", {d: NINE_TO_EIGHT for d in ("mon", "tue", "wed", "thu", "fri")}),
        (
            "mon-fri 09:00-20:00, sat 10:00-16:00",
            {
                **{d: NINE_TO_EIGHT for d in ("mon", "tue", "wed", "thu", "fri")},
                "sat": ["10:00", "16:00"],
            },
        ),
        (
            "mon-sun 10:00-18:00, sun off",
            {d: ["10:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
        ),
        ("Sat 9:30 - 14:00", {"sat": ["09:30", "14:00"]}),
        (
            "saturday 09:00–13:00; sunday 09:00—13:00",
            {"sat": ["09:00", "13:00"], "sun": ["09:00", "13:00"]},
        ),
        (
            "пн-пт 10:00-19:00, сб 11:00-15:00, вс выходной",
            {
                **{d: ["10:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                "sat": ["11:00", "15:00"],
            },
        ),
        ("нд 10:00-12:00", {"sun": ["10:00", "12:00"]}),
        ("wed 00:00-23:59,", {"wed": ["00:00", "23:59"]}),
        ("mon 08:00-12:00, mon 13:00-17:00", {"mon": ["13:00", "17:00"]}),
    ],
)
def test_parse_working_hours(text, expected):
    # when
    hours = parse_working_hours(text)
    # then the mapping is as expected and lists days from Monday on
    assert hours == expected
    assert list(hours) == list(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"no working hours given: {EXAMPLE}"),
        (
            " , ",
            f"no working hours given: {EXAMPLE}",
        ),
        (
            "mon-fri 20:00-09:00",
            "'mon-fri 20:00-09:00': the end of the day must come after its start",
        ),
        ("10:00-10:00", "'10:00-10:00': the end of the day must come after its start"),
        ("mon-fri 09:00-24:00", "bad time '24:00': use HH:MM from 00:00 to 23:59"),
        ("mon 9-18", "bad time '9': use HH:MM from 00:00 to 23:59"),
        ("mon 09:60-18:00", "bad time '09:60': use HH:MM from 00:00 to 23:59"),
        (
            "mon 09:00",
            f"cannot read 'mon 09:00': {EXAMPLE}",
        ),
        ("funday 09:00-18:00", "unknown day 'funday': use mon, tue, wed, thu, fri, sat, sun"),
        ("mond 09:00-18:00", "unknown day 'mond': use mon, tue, wed, thu, fri, sat, sun"),
        ("fri-mon 09:00-18:00", "'fri-mon': a range of days runs forward, e.g. mon-fri"),
        (
            "mon to fri 09:00-18:00",
            f"cannot read 'mon to fri 09:00-18:00': {EXAMPLE}",
        ),
        ("mon-sun off", "at least one working day is needed"),
    ],
)
def test_parse_working_hours_refuses(text, message):
    # when
    with pytest.raises(ValueError) as caught:
        parse_working_hours(text)
    # then the message names the part at fault and what to write instead
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "mon-fri 09:00-20:00",
        "mon-fri 09:00-20:00, sat 10:00-16:00",
        "mon 09:00-18:00, wed 09:00-18:00, fri-sun 11:00-15:00",
        "sun 10:00-12:00",
    ],
)
def test_format_working_hours_reads_back(text):
    # when
    hours = parse_working_hours(text)
    # then
    assert format_working_hours(hours) == text
    assert parse_working_hours(format_working_hours(hours)) == hours


def test_format_of_no_hours_is_empty():
    # when a shop has no hours stored (never through parse_working_hours), then
    assert format_working_hours({}) == ""


def test_parse_days_off():
    # when dates arrive unsorted and twice, then they are stored sorted, once
    assert parse_days_off("2027-01-02, 2026-12-31 2027-01-02") == ["2026-12-31", "2027-01-02"]
    # an empty text clears them; anything but YYYY-MM-DD is refused
    assert parse_days_off("  ") == []
    for bad in ("2026-13-01", "31.12.2026", "20261231"):
        with pytest.raises(ValueError, match="use YYYY-MM-DD"):
            parse_days_off(bad)


# -- reading -------------------------------------------------------------------------------


async def test_staff_see_the_settings_and_who_may_edit(services, settings):
    # given
    shop = await make_shop(services)
    # when the owner and a packer look
    owner_view = await settings.get(shop.id, shop.owner.id)
    packer_view = await settings.get(shop.id, shop.packer.id)
    # then both see the shop; only the owner may edit
    assert owner_view.shop.name == "Shop marketplace"
    assert owner_view.workflow.code == "marketplace"
    assert owner_view.workflow_version == 1
    assert owner_view.working_hours_text == "mon-fri 09:00-20:00"
    assert owner_view.can_edit and not packer_view.can_edit
    assert packer_view.roles == {"packer"}


async def test_a_stranger_does_not_see_the_settings(services, settings):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(settings.get(shop.id, shop.stranger.id))
    # then
    assert refused.code == Reason.NOT_FOUND


# -- updating ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "column", "stored"),
    [
        ("name", "  Flower shop ", "name", "Flower shop"),
        ("email", "orders@flowers.example", "email", "orders@flowers.example"),
        ("email", "", "email", None),
        ("timezone", "Europe/Kyiv", "timezone", "Europe/Kyiv"),
        ("timezone", "asia/yekaterinburg", "timezone", "Asia/Yekaterinburg"),
        ("country", "ua", "country", "UA"),
        ("currency", "uah", "currency", "UAH"),
        ("language", "uk", "language", "uk"),
        (
            "working_hours",
            "mon-fri 10:00-19:00, sat 10:00-16:00",
            "working_hours",
            {
                **{d: ["10:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                "sat": ["10:00", "16:00"],
            },
        ),
        ("days_off", "2026-12-31, 2027-01-02", "days_off", ["2026-12-31", "2027-01-02"]),
        ("days_off", "", "days_off", []),
    ],
)
async def test_owner_updates_a_setting(services, settings, field, value, column, stored):
    # given
    shop = await make_shop(services)
    # when
    updated = await settings.update(shop.id, shop.owner.id, field, value)
    # then it is returned and stored
    assert getattr(updated, column) == stored
    assert getattr(await shop_row(services, shop.id), column) == stored


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "  ", "a shop name of 1 to 128 characters is needed"),
        ("name", "x" * 129, "a shop name of 1 to 128 characters is needed"),
        ("email", "orders at flowers", "not an e-mail address: 'orders at flowers'"),
        (
            "timezone",
            "Mars/Olympus",
            "unknown time zone 'Mars/Olympus': use a name like Europe/Moscow",
        ),
        ("timezone", "Europe", "unknown time zone 'Europe': use a name like Europe/Moscow"),
        (
            "country",
            "XX",
            f"unknown country 'XX': {COUNTRIES}",
        ),
        (
            "country",
            "RUS",
            f"unknown country 'RUS': {COUNTRIES}",
        ),
        (
            "country",
            "UK",
            f"unknown country 'UK': {COUNTRIES}",
        ),
        ("currency", "XYZ", "unknown currency 'XYZ': use an ISO 4217 code like RUB"),
        ("currency", "SUR", "unknown currency 'SUR': use an ISO 4217 code like RUB"),
        ("language", "de", "unknown language 'de': use one of ru, uk, en"),
        (
            "working_hours",
            "mon-fri 18:00-09:00",
            "'mon-fri 18:00-09:00': the end of the day must come after its start",
        ),
        ("days_off", "2026-02-30", "not a date: '2026-02-30': use YYYY-MM-DD"),
        (
            "preset",
            "bazaar",
            "unknown preset 'bazaar': use one of marketplace, stages, platform, reseller",
        ),
        ("sla_auto_cancel", "maybe", "use on or off"),
        (
            "delivery_price",
            "drone 100",
            "unknown delivery method 'drone': use one of pickup, courier, post, carrier",
        ),
        (
            "delivery_price",
            "courier",
            "not a price: '': write the method and an amount, e.g. courier 350.00",
        ),
        (
            "delivery_price",
            "courier -5",
            "not a price: '-5': write the method and an amount, e.g. courier 350.00",
        ),
        (
            "delivery_price",
            "courier 3.505",
            "not a price: '3.505': write the method and an amount, e.g. courier 350.00",
        ),
        (
            "delivery_price",
            "courier lots",
            "not a price: 'lots': write the method and an amount, e.g. courier 350.00",
        ),
        (
            "colour",
            "blue",
            f"unknown setting 'colour': use one of {SETTINGS}",
        ),
    ],
)
async def test_invalid_values_are_refused_by_name(services, settings, field, value, message):
    # given
    shop = await make_shop(services)
    before = await shop_row(services, shop.id)
    # when
    refused = await refusal(settings.update(shop.id, shop.owner.id, field, value))
    # then the field is named, the message says what to type, and nothing changed
    assert refused.code == Reason.INVALID
    assert refused.params == {"field": field}
    assert refused.message == message
    after = await shop_row(services, shop.id)
    columns = [c.key for c in Shop.__table__.columns]
    assert {c: getattr(after, c) for c in columns} == {c: getattr(before, c) for c in columns}
    assert len(await versions(services, shop.id)) == 1


async def test_admin_may_update_settings(services, settings):
    # given
    shop = await make_shop(services)
    admin = await services.shops.add_staff(shop.id, 66_001, "admin")
    # when
    updated = await settings.update(shop.id, admin.id, "name", "Renamed")
    # then
    assert updated.name == "Renamed"


@pytest.mark.parametrize(
    ("who", "code"), [("manager", Reason.FORBIDDEN), ("stranger", Reason.NOT_FOUND)]
)
async def test_others_may_not_update_settings(services, settings, who, code):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(settings.update(shop.id, getattr(shop, who).id, "name", "Mine now"))
    # then
    assert refused.code == code
    assert (await shop_row(services, shop.id)).name == "Shop marketplace"


async def test_sla_auto_cancel_switches_and_keeps_other_settings(services, settings):
    # given a shop with a delivery price
    shop = await make_shop(services)
    await settings.update(shop.id, shop.owner.id, "delivery_price", "post 250")
    # when auto-cancel is switched on, then off
    on = await settings.update(shop.id, shop.owner.id, "sla_auto_cancel", "on")
    off = await settings.update(shop.id, shop.owner.id, "sla_auto_cancel", "OFF")
    # then each is stored, next to the delivery price
    assert on.settings["sla_auto_cancel"] is True
    assert off.settings == {"sla_auto_cancel": False, "delivery_prices": {"post": 25000}}


async def test_delivery_price_is_used_by_new_orders(services, settings):
    # given the owner sets the courier price in roubles, with a decimal comma too
    shop = await make_shop(services)
    await settings.update(shop.id, shop.owner.id, "delivery_price", "courier 350.00")
    updated = await settings.update(shop.id, shop.owner.id, "delivery_price", "Post 199,90")
    assert updated.settings["delivery_prices"] == {"courier": 35000, "post": 19990}

    # when an order arrives without a delivery cost of its own
    order = await make_order(services, shop, delivery="courier")

    # then the shop's price, in kopecks, is charged
    assert order.delivery_cost == 35000
    assert order.total == order.items_total + 35000


async def test_delivery_price_follows_the_currencys_minor_unit(services, settings):
    # given
    shop = await make_shop(services)
    await settings.update(shop.id, shop.owner.id, "currency", "JPY")
    # when
    updated = await settings.update(shop.id, shop.owner.id, "delivery_price", "courier 500")
    # then
    assert updated.settings["delivery_prices"] == {"courier": 500}
    refused = await refusal(settings.update(shop.id, shop.owner.id, "delivery_price", "post 1.5"))
    assert refused.params == {"field": "delivery_price"}


# -- the workflow -----------------------------------------------------------------------------


async def test_switching_preset_keeps_old_orders_on_their_version(services, settings):
    # given an order on the marketplace workflow
    shop = await make_shop(services)
    old = await make_order(services, shop)
    old_version = old.workflow_id

    # when the owner switches the shop to the platform preset
    updated = await settings.update(shop.id, shop.owner.id, "preset", "platform")

    # then new orders start on the platform workflow, the old one stays where it was
    assert updated.workflow_code == "platform"
    assert [(v.version, v.code) for v in await versions(services, shop.id)] == [
        (1, "marketplace"),
        (2, "platform"),
    ]
    new = await make_order(services, shop, external_id="after-switch")
    assert new.workflow_id != old_version
    assert new.status == "new"
    owner = ActorRef.user(shop.owner.id)
    assert (await services.orders.get(old.id, owner)).workflow_id == old_version
    assert (await services.orders.workflow_of(old.id)).code == "marketplace"
    # and the old order still moves on its own workflow
    result = await services.orders.apply(old.id, ActorRef.user(shop.manager.id), "confirm")
    assert result.order.status == "awaiting_payment"


async def test_switching_to_the_current_preset_writes_no_version(services, settings):
    # given
    shop = await make_shop(services)
    # when
    await settings.update(shop.id, shop.owner.id, "preset", "marketplace")
    # then
    assert len(await versions(services, shop.id)) == 1


async def test_set_responsible_writes_a_new_version(services, settings):
    # given an order awaiting confirmation, a manager's status
    shop = await make_shop(services)
    old = await make_order(services, shop)

    # when the owner makes packers responsible for it
    workflow = await settings.set_responsible(
        shop.id, shop.owner.id, "awaiting_confirmation", "packer"
    )

    # then a new version says so; the old version, and the old order on it, are unchanged
    assert workflow.status("awaiting_confirmation").responsible == "packer"
    first, second = await versions(services, shop.id)
    assert second.version == 2
    assert (await services.orders.workflow_of(old.id)).status(
        "awaiting_confirmation"
    ).responsible == "manager"
    assert first.body["statuses"][0]["responsible"] == "manager"
    view = await settings.get(shop.id, shop.owner.id)
    assert view.workflow_version == 2
    assert view.workflow.status("awaiting_confirmation").responsible == "packer"


async def test_set_responsible_to_nobody(services, settings):
    # given
    shop = await make_shop(services)
    # when
    workflow = await settings.set_responsible(shop.id, shop.owner.id, "paid", None)
    # then
    assert workflow.status("paid").responsible is None
    # setting what is already there writes nothing
    again = await settings.set_responsible(shop.id, shop.owner.id, "paid", None)
    assert again.status("paid").responsible is None
    assert len(await versions(services, shop.id)) == 2


@pytest.mark.parametrize(
    ("who", "status", "role", "code", "field"),
    [
        ("owner", "teleported", "packer", Reason.INVALID, "status"),
        ("owner", "paid", "wizard", Reason.INVALID, "role"),
        ("manager", "paid", "packer", Reason.FORBIDDEN, None),
        ("stranger", "paid", "packer", Reason.NOT_FOUND, None),
    ],
)
async def test_set_responsible_refusals(services, settings, who, status, role, code, field):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(settings.set_responsible(shop.id, getattr(shop, who).id, status, role))
    # then no version was written
    assert refused.code == code
    assert refused.params.get("field") == field
    assert len(await versions(services, shop.id)) == 1


# -- the staff chat ---------------------------------------------------------------------------


async def test_bind_and_unbind_the_staff_chat(services, settings):
    # given
    shop = await make_shop(services)
    # when
    bound = await settings.bind_staff_chat(shop.id, shop.owner.id, -100_123)
    # then
    assert bound.staff_chat_id == -100_123
    assert (await shop_row(services, shop.id)).staff_chat_id == -100_123
    unbound = await settings.unbind_staff_chat(shop.id, shop.owner.id)
    assert unbound.staff_chat_id is None
    assert (await shop_row(services, shop.id)).staff_chat_id is None


async def test_staff_chat_is_for_supervisors(services, settings):
    # given
    shop = await make_shop(services)
    # when
    refused = await refusal(settings.bind_staff_chat(shop.id, shop.packer.id, -100_123))
    # then
    assert refused.code == Reason.FORBIDDEN
    refused = await refusal(settings.unbind_staff_chat(shop.id, shop.stranger.id))
    assert refused.code == Reason.NOT_FOUND
    refused = await refusal(settings.bind_staff_chat(shop.id, shop.owner.id, 0))
    assert refused.params == {"field": "chat_id"}
