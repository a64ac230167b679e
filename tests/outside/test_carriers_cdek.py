"""CDEK API v2 through its fake: the journey, the OAuth token's cache and its one refresh,
webhooks read only as a hint of what to fetch back, and the subscription request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.carriers.base import (
    CarrierError,
    EventKind,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
)
from services.carriers.cdek import (
    STATUS_KINDS,
    CdekAdapter,
    WebhookRejected,
    parse_webhook,
    subscription_request,
)
from tests.outside.conftest import Rig, utc
from tests.outside.fakes.carriers import RECORDINGS

K = EventKind


async def test_a_parcels_whole_journey_in_our_words_and_utc(cdek: Rig):
    answers = await cdek.adapter.track(cdek.credentials, ["1106207236"])

    tracking = answers["1106207236"]
    assert [(c.carrier_code, c.kind, c.at) for c in tracking.checkpoints] == [
        ("RECEIVED_AT_SHIPMENT_WAREHOUSE", K.ACCEPTED, utc(2020, 8, 11, 5, 30)),
        ("READY_TO_SHIP_AT_SENDING_OFFICE", K.IN_TRANSIT, utc(2020, 8, 11, 11, 0)),
        ("TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY", K.IN_TRANSIT, utc(2020, 8, 11, 14, 30)),
        ("SENT_TO_RECIPIENT_CITY", K.IN_TRANSIT, utc(2020, 8, 11, 16, 5)),
        ("ACCEPTED_IN_RECIPIENT_CITY", K.IN_TRANSIT, utc(2020, 8, 13, 3, 40)),
        ("ACCEPTED_AT_PICK_UP_POINT", K.ARRIVED_AT_PICKUP_POINT, utc(2020, 8, 13, 7, 15)),
        ("DELIVERED", K.DELIVERED, utc(2020, 8, 14, 12, 2, 11)),
    ]
    assert tracking.latest.location == "Москва"
    assert tracking.latest.description == "Вручен"
    assert tracking.final


async def test_refusal_is_final_and_an_undocumented_status_stays_in_transit(cdek: Rig):
    answers = await cdek.adapter.track(cdek.credentials, ["1275242903"])

    kinds = {c.carrier_code: c.kind for c in answers["1275242903"].checkpoints}
    assert kinds["SOME_FUTURE_STATUS"] == K.IN_TRANSIT
    assert answers["1275242903"].latest.kind == K.REFUSED


async def test_an_order_the_shop_removed_is_not_found(cdek: Rig):
    answers = await cdek.adapter.track(cdek.credentials, ["1000000001"])

    assert answers["1000000001"].kind == ProblemKind.NOT_FOUND


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ACCEPTED_AT_PICK_UP_POINT", K.ARRIVED_AT_PICKUP_POINT),
        ("POSTOMAT_POSTED", K.ARRIVED_AT_PICKUP_POINT),
        ("POSTOMAT_RECEIVED", K.DELIVERED),
        ("POSTOMAT_SEIZED", K.RETURNED_TO_SENDER),
        ("RETURNED_TO_RECIPIENT_CITY_WAREHOUSE", K.IN_TRANSIT),  # "не означает возврат"
        ("RETURNED_TO_SENDER_CITY_WAREHOUSE", K.IN_TRANSIT),
        ("NOT_DELIVERED", K.REFUSED),
        ("TAKEN_BY_COURIER", K.IN_TRANSIT),
    ],
)
def test_documented_statuses_map_as_the_table_says(code, kind):
    assert STATUS_KINDS[code] == kind


async def test_the_token_is_fetched_once_and_reused(cdek: Rig):
    await cdek.adapter.track(cdek.credentials, ["1106207236", "1275242903"])
    await cdek.adapter.track(cdek.credentials, ["1000000001"])

    assert cdek.fake.token_requests == 1
    assert cdek.fake.total == 4


async def test_the_token_is_fetched_again_shortly_before_it_expires(cdek: Rig, clock):
    cdek.fake.token_lifetime = 3600
    await cdek.adapter.track(cdek.credentials, ["1106207236"])

    clock.advance(timedelta(seconds=3600 - 62))  # the first track waited 1 s after the token
    await cdek.adapter.track(cdek.credentials, ["1106207236"])
    assert cdek.fake.token_requests == 1

    clock.advance(timedelta(seconds=2))  # within the last minute of its life
    await cdek.adapter.track(cdek.credentials, ["1106207236"])
    assert cdek.fake.token_requests == 2


async def test_a_401_refreshes_the_token_once_and_goes_on(cdek: Rig):
    await cdek.adapter.track(cdek.credentials, ["1106207236"])
    cdek.fake.expire_tokens()

    answers = await cdek.adapter.track(cdek.credentials, ["1106207236"])

    assert isinstance(answers["1106207236"], Tracking)
    assert cdek.fake.token_requests == 2
    assert cdek.fake.requests["1106207236"] == 3  # 1, then 401, then again


async def test_a_second_401_is_unauthorized_without_a_third_try(cdek: Rig):
    await cdek.adapter.track(cdek.credentials, ["1106207236"])
    cdek.fake.fail_next(1, "401")
    cdek.fake.fail_next(1, "401", after=1)  # the token request in between succeeds

    with pytest.raises(CarrierError) as raised:
        await cdek.adapter.track(cdek.credentials, ["1106207236"])

    assert raised.value.kind == FailureKind.UNAUTHORIZED
    assert cdek.fake.token_requests == 2
    assert cdek.fake.requests["1106207236"] == 3


async def test_two_shops_have_two_tokens(cdek: Rig):
    other = {"client_id": "another-shop", "client_secret": "other-secret"}

    await cdek.adapter.track(cdek.credentials, ["1106207236"])
    with pytest.raises(CarrierError) as raised:
        await cdek.adapter.track(other, ["1106207236"])

    assert raised.value.kind == FailureKind.UNAUTHORIZED  # not served the first shop's token


@pytest.mark.parametrize(
    "token_answer",
    [
        b"not json",
        b'{"access_token": "", "expires_in": 3600}',
        b'{"access_token": "abc", "expires_in": "3600"}',
        b'{"access_token": "abc", "expires_in": -1}',
        b'{"access_token": "abc", "expires_in": true}',
        b'{"access_token": "a\\r\\nX-Injected: 1", "expires_in": 3600}',
        b'{"access_token": ["abc"], "expires_in": 3600}',
    ],
)
async def test_a_token_answer_without_a_usable_token_is_malformed(cdek: Rig, token_answer):
    async def token(request, body):
        from aiohttp import web

        return web.Response(body=token_answer, content_type="application/json")

    cdek.fake.answer = token  # type: ignore[method-assign]

    with pytest.raises(CarrierError) as raised:
        await cdek.adapter.track(cdek.credentials, ["1106207236"])

    assert raised.value.kind == FailureKind.MALFORMED


@pytest.mark.parametrize(
    "entity",
    [
        {"statuses": "DELIVERED"},
        {"statuses": [{"code": "DELIVERED"}]},  # no date_time
        {"statuses": [{"code": 4, "date_time": "2020-08-14T15:02:11+0300"}]},
        {"statuses": [{"code": "DELIVERED", "date_time": "2020-08-14T15:02:11"}]},
        {"cdek_number": "999", "statuses": []},  # an answer about another order
        {"statuses": [{"code": "DELIVERED", "date_time": "2020-08-14T15:02:11+0300"}] * 501},
    ],
)
async def test_an_order_of_the_wrong_shape_is_malformed(cdek: Rig, entity):
    cdek.fake.answer_with("1106207236", json.dumps({"entity": entity}).encode())

    with pytest.raises(CarrierError) as raised:
        await cdek.adapter.track(cdek.credentials, ["1106207236"])

    assert raised.value.kind == FailureKind.MALFORMED


async def test_an_order_of_another_client_is_a_rejected_code(cdek: Rig):
    forbidden = {"requests": [{"state": "INVALID", "errors": [{"code": "v2_entity_forbidden"}]}]}
    cdek.fake.answer_with("1106207236", json.dumps(forbidden).encode(), status=400)

    answers = await cdek.adapter.track(cdek.credentials, ["1106207236"])

    assert answers["1106207236"] == TrackingProblem(
        "1106207236", ProblemKind.REJECTED, "v2_entity_forbidden"
    )


# -- webhooks -----------------------------------------------------------------------------


def test_an_order_status_webhook_names_the_order_to_fetch_back():
    body = (RECORDINGS / "cdek" / "webhook_order_status.json").read_bytes()

    assert parse_webhook(body) == ["1106207236"]


def test_other_webhook_types_name_nothing():
    assert parse_webhook(b'{"type": "PRINT_FORM", "attributes": {"cdek_number": "1"}}') == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"attributes": {"cdek_number": "1106207236"}}',  # no type
        b'{"type": "ORDER_STATUS"}',
        b'{"type": "ORDER_STATUS", "attributes": []}',
        b'{"type": "ORDER_STATUS", "attributes": {"number": "shop-7450"}}',
        b'{"type": "ORDER_STATUS", "attributes": {"cdek_number": "1106207236; drop"}}',
        b'{"type": "ORDER_STATUS", "attributes": {"cdek_number": true}}',
        b'{"type": "ORDER_STATUS", "attributes": {"cdek_number": "../../v2/webhooks"}}',
        b'{"type": "ORDER_STATUS", "attributes": {"cdek_number": "' + b"1" * 100 + b'"}}',
        b"[" * 100000 + b"]" * 100000,
        b'{"type": "ORDER_STATUS", "pad": "' + b"x" * 70000 + b'"}',
    ],
)
def test_forged_webhooks_are_rejected(body):
    with pytest.raises(WebhookRejected):
        parse_webhook(body)


def test_a_webhook_number_given_as_a_number_is_read_as_text():
    body = b'{"type": "ORDER_STATUS", "attributes": {"cdek_number": 1106207236}}'

    assert parse_webhook(body) == ["1106207236"]


async def test_subscribing_posts_the_documented_request(cdek: Rig):
    uuid = await cdek.adapter.subscribe(cdek.credentials, "https://shop.example/hooks/cdek")

    assert uuid == "72753034-7e6b-4a04-98de-3e9a2e6d3f60"
    assert cdek.fake.webhooks == [
        {"url": "https://shop.example/hooks/cdek", "type": "ORDER_STATUS"}
    ]


@pytest.mark.parametrize(
    "url", ["ftp://shop.example/x", "javascript:alert(1)", "https://", "https://x/" + "a" * 300]
)
def test_a_subscription_needs_an_http_address(url):
    with pytest.raises(ValueError):
        subscription_request(url)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("1106207236", True),
        ("10012345678", True),
        ("CDEK123", False),
        ("12 34", False),
        ("", False),
    ],
)
def test_valid_code(code, valid):
    assert CdekAdapter(transport=None).valid_code(code) is valid  # type: ignore[arg-type]
