"""Boxberry's ListStatuses through its fake: names mapped to our words, Moscow times to UTC,
its {"err": ...} answers told apart."""

from __future__ import annotations

import json

import pytest

from services.carriers.base import (
    CarrierError,
    EventKind,
    FailureKind,
    ProblemKind,
    TrackingProblem,
)
from services.carriers.boxberry import BoxberryAdapter
from tests.outside.conftest import Rig, utc

K = EventKind


async def test_a_parcels_whole_journey_in_our_words_and_utc(boxberry: Rig):
    answers = await boxberry.adapter.track(boxberry.credentials, ["AAP298792807"])

    tracking = answers["AAP298792807"]
    assert [(c.description, c.kind, c.at) for c in tracking.checkpoints] == [
        ("Принято к доставке", K.ACCEPTED, utc(2024, 2, 7, 10, 40, 54)),
        ("Передано на сортировку", K.IN_TRANSIT, utc(2024, 2, 7, 10, 42, 55)),
        ("Отправлено в город назначения", K.IN_TRANSIT, utc(2024, 2, 7, 10, 44, 3)),
        ("Поступило в пункт выдачи", K.ARRIVED_AT_PICKUP_POINT, utc(2024, 2, 8, 8, 52, 35)),
        ("Выдано", K.DELIVERED, utc(2024, 2, 9, 10, 54, 31)),
    ]
    assert tracking.checkpoints[3].location.startswith("Москва (115478")
    assert tracking.final


async def test_a_parcel_going_back_to_the_shop(boxberry: Rig):
    answers = await boxberry.adapter.track(boxberry.credentials, ["DUD15086277"])

    tracking = answers["DUD15086277"]
    assert [c.kind for c in tracking.checkpoints][-2:] == [
        K.IN_TRANSIT,  # "Готовится к возврату": still at the pickup point
        K.RETURNED_TO_SENDER,  # "Отправлено в пункт приема"
    ]
    assert tracking.checkpoints[0].at == utc(2019, 4, 30, 21, 56, 13)  # "2019-05-01T00:56:13"


async def test_an_undocumented_status_name_stays_in_transit(boxberry: Rig):
    statuses = [{"Date": "2024-02-07 13:40:54", "Name": "Новый статус", "Comment": ""}]
    boxberry.fake.answer_with("AAP298792807", json.dumps(statuses).encode())

    answers = await boxberry.adapter.track(boxberry.credentials, ["AAP298792807"])

    assert answers["AAP298792807"].latest.kind == K.IN_TRANSIT
    assert not answers["AAP298792807"].final


@pytest.mark.parametrize(
    "error",
    [
        {"err": "Посылка не найдена"},
        [{"err": "Посылка не найдена"}],
        {"err": True, "message": "Посылка не найдена"},
    ],
)
async def test_the_error_forms_about_a_parcel_are_not_found(boxberry: Rig, error):
    boxberry.fake.answer_with("AAP298792807", json.dumps(error).encode())

    answers = await boxberry.adapter.track(boxberry.credentials, ["AAP298792807"])

    assert answers["AAP298792807"] == TrackingProblem(
        "AAP298792807", ProblemKind.NOT_FOUND, "Посылка не найдена"
    )


@pytest.mark.parametrize(
    "statuses",
    [
        [{"Date": "07.02.2024", "Name": "Выдано"}],  # a date without its time
        [{"Date": "2024-02-07 13:40:54"}],  # no name
        [{"Date": 1707302454, "Name": "Выдано"}],
        [{"Date": "2024-02-07 13:40:54", "Name": {"ru": "Выдано"}}],
        ["Выдано"],
        [{"Date": "2024-02-07 13:40:54", "Name": "Выдано"}] * 501,
    ],
)
async def test_statuses_of_the_wrong_shape_are_malformed(boxberry: Rig, statuses):
    boxberry.fake.answer_with("AAP298792807", json.dumps(statuses).encode())

    with pytest.raises(CarrierError) as raised:
        await boxberry.adapter.track(boxberry.credentials, ["AAP298792807"])

    assert raised.value.kind == FailureKind.MALFORMED


async def test_control_and_direction_characters_never_reach_our_texts(boxberry: Rig):
    name = "Выдано\u202e\u0000\x1b[31m"
    statuses = [{"Date": "2024-02-07 13:40:54", "Name": name, "Comment": "A\u2066B\nC"}]
    boxberry.fake.answer_with("AAP298792807", json.dumps(statuses).encode())

    answers = await boxberry.adapter.track(boxberry.credentials, ["AAP298792807"])

    checkpoint = answers["AAP298792807"].latest
    assert checkpoint.description == "Выдано[31m"
    assert checkpoint.location == "AB C"
    assert checkpoint.kind == K.IN_TRANSIT  # not "Выдано": a name that is not the documented one


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("AAP298792807", True),
        ("DUD15086277", True),
        ("aap298792807", False),
        ("298792807", False),
        ("AAP-298792807", False),
        ("", False),
    ],
)
def test_valid_code(code, valid):
    assert BoxberryAdapter(transport=None).valid_code(code) is valid  # type: ignore[arg-type]
