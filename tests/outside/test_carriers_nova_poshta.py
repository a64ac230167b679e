"""Nova Poshta's getStatusDocuments through its fake: the current state polled over a journey,
batches of at most 100 waybills, Kyiv times to UTC."""

from __future__ import annotations

import json

import pytest

from services.carriers.base import (
    CarrierError,
    EventKind,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
)
from services.carriers.nova_poshta import STATUS_KINDS, NovaPoshtaAdapter
from tests.outside.conftest import Rig, utc
from tests.outside.fakes.carriers import RECORDINGS

K = EventKind
WAYBILL = "20400048799000"


async def test_a_parcels_whole_journey_polled_state_by_state(nova_poshta: Rig):
    seen = []
    for _ in range(5):
        answers = await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])
        seen.append(answers[WAYBILL])

    assert seen[0] == Tracking(WAYBILL)  # created by the sender, not handed over yet
    assert [(t.latest.kind, t.latest.at, t.latest.carrier_code) for t in seen[1:]] == [
        (K.ACCEPTED, utc(2021, 11, 18, 14, 20), "4"),  # Kyiv is UTC+2 in November
        (K.IN_TRANSIT, utc(2021, 11, 18, 20, 5), "5"),
        (K.ARRIVED_AT_PICKUP_POINT, utc(2021, 11, 19, 7, 41), "7"),
        (K.DELIVERED, utc(2021, 11, 21, 11, 53, 47), "9"),
    ]
    assert seen[1].latest.location == "Київ"
    assert seen[3].latest.location.startswith("Відділення №1")
    assert seen[4].final and not seen[3].final


async def test_a_refusal_in_summer_time(nova_poshta: Rig):
    first = await nova_poshta.adapter.track(nova_poshta.credentials, ["59000000000001"])
    second = await nova_poshta.adapter.track(nova_poshta.credentials, ["59000000000001"])

    assert first["59000000000001"].latest.kind == K.ARRIVED_AT_PICKUP_POINT
    assert second["59000000000001"].latest.kind == K.REFUSED
    assert second["59000000000001"].latest.at == utc(2022, 3, 4, 10, 30)


async def test_codes_are_asked_in_batches_of_at_most_100(nova_poshta: Rig):
    codes = [f"2040000000{n:04d}" for n in range(250)]

    answers = await nova_poshta.adapter.track(nova_poshta.credentials, codes)

    assert nova_poshta.fake.total == 3
    assert set(answers) == set(codes)
    assert all(a.kind == ProblemKind.NOT_FOUND for a in answers.values())
    assert all(count == 1 for count in nova_poshta.fake.requests.values())


async def test_the_phone_goes_with_every_document_only_when_given(nova_poshta: Rig):
    await nova_poshta.adapter.track(nova_poshta.credentials, ["59000000000001"])
    with_phone = {**nova_poshta.credentials, "phone": "380600000000"}
    await nova_poshta.adapter.track(with_phone, ["59000000000001", WAYBILL])

    assert nova_poshta.fake.phones == [None, "380600000000", "380600000000"]


def envelope(*items: dict) -> bytes:
    frame = json.loads((RECORDINGS / "nova_poshta" / "envelope.json").read_bytes())
    frame["data"] = list(items)
    return json.dumps(frame).encode()


def item(code, number=WAYBILL, **fields) -> dict:
    return {"Number": number, "StatusCode": code, "Status": "…", **fields}


async def test_a_deleted_waybill_is_not_found(nova_poshta: Rig):
    nova_poshta.fake.answer_with(WAYBILL, envelope(item("2", Status="Видалено")))

    answers = await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])

    assert answers[WAYBILL] == TrackingProblem(WAYBILL, ProblemKind.NOT_FOUND, "Видалено")


async def test_an_undocumented_status_code_stays_in_transit(nova_poshta: Rig):
    body = envelope(item(999, DateCreated="18-11-2021 11:52:42"))  # a number, not a string
    nova_poshta.fake.answer_with(WAYBILL, body)

    answers = await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])

    assert answers[WAYBILL].latest.kind == K.IN_TRANSIT
    assert answers[WAYBILL].latest.at == utc(2021, 11, 18, 9, 52, 42)


async def test_an_item_for_a_waybill_not_asked_is_ignored(nova_poshta: Rig):
    stray = item("9", number="59000000000009", RecipientDateTime="21.11.2021 13:53:47")
    nova_poshta.fake.answer_with(WAYBILL, envelope(stray))

    answers = await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])

    assert set(answers) == {WAYBILL}
    assert answers[WAYBILL].kind == ProblemKind.REJECTED


@pytest.mark.parametrize(
    "body",
    [
        envelope(item("9")),  # received, but no date at all
        envelope(item("9", RecipientDateTime="yesterday")),
        envelope(item("nine", RecipientDateTime="21.11.2021 13:53:47")),
        envelope(item(True, RecipientDateTime="21.11.2021 13:53:47")),
        envelope({"StatusCode": "9"}),
        envelope("not an item"),
        envelope(item("9"), item("9"), item("9")),  # more items than documents asked
        b'{"data": []}',  # no success
        b'{"success": "yes", "data": []}',
    ],
)
async def test_answers_of_the_wrong_shape_are_malformed(nova_poshta: Rig, body):
    nova_poshta.fake.answer_with(WAYBILL, body)

    with pytest.raises(CarrierError) as raised:
        await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])

    assert raised.value.kind == FailureKind.MALFORMED


async def test_any_other_refusal_is_our_request_being_invalid(nova_poshta: Rig):
    refusal = {"success": False, "data": [], "errors": ["Document number is not correct"]}
    nova_poshta.fake.answer_with(WAYBILL, json.dumps(refusal).encode())

    with pytest.raises(CarrierError) as raised:
        await nova_poshta.adapter.track(nova_poshta.credentials, [WAYBILL])

    assert raised.value.kind == FailureKind.INVALID
    assert "Document number is not correct" in raised.value.message


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (7, K.ARRIVED_AT_PICKUP_POINT),
        (8, K.ARRIVED_AT_PICKUP_POINT),
        (9, K.DELIVERED),
        (10, K.DELIVERED),
        (11, K.DELIVERED),
        (106, K.DELIVERED),
        (102, K.REFUSED),
        (103, K.REFUSED),
        (105, K.RETURNED_TO_SENDER),
        (111, K.IN_TRANSIT),
    ],
)
def test_status_codes_map_as_the_table_says(code, kind):
    assert STATUS_KINDS[code] == kind


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("20400048799000", True),
        ("59000000000001", True),
        ("2040004879900", False),
        ("2040004879900O", False),
        ("", False),
    ],
)
def test_valid_code(code, valid):
    assert NovaPoshtaAdapter(transport=None).valid_code(code) is valid  # type: ignore[arg-type]
