"""Russian Post's single-access SOAP service through its fake: the journey, the mapping of
operations and attributes, faults, and XML that must never be expanded."""

from __future__ import annotations

import pytest

from services.carriers.base import (
    CarrierError,
    EventKind,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
    normalize_code,
)
from services.carriers.russian_post import RussianPostAdapter, kind_of
from tests.outside.conftest import Rig, utc

K = EventKind


async def test_a_parcels_whole_journey_in_our_words_and_utc(russian_post: Rig):
    # when
    answers = await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    # then: "Присвоение идентификатора" is paperwork, not a checkpoint
    tracking = answers["RA123456785RU"]
    assert [c.kind for c in tracking.checkpoints] == [
        K.ACCEPTED,
        K.IN_TRANSIT,
        K.IN_TRANSIT,
        K.ARRIVED_AT_PICKUP_POINT,
        K.DELIVERED,
    ]
    assert [c.at for c in tracking.checkpoints] == [
        utc(2015, 7, 9, 15, 8),
        utc(2015, 7, 9, 18, 40),
        utc(2015, 7, 10, 1, 12),
        utc(2015, 7, 14, 2, 30),  # Norilsk, +07:00
        utc(2015, 7, 15, 5, 5),
    ]
    first = tracking.checkpoints[0]
    assert first.carrier_code == "1:1"
    assert first.description == "Прием: Единичный"
    assert first.location == "111555 Москва 555"
    assert tracking.final


async def test_the_buyer_refusing_ends_in_refused_not_in_a_failed_attempt(russian_post: Rig):
    answers = await russian_post.adapter.track(russian_post.credentials, ["14102192069353"])

    kinds = [c.kind for c in answers["14102192069353"].checkpoints]
    assert kinds == [K.ACCEPTED, K.ARRIVED_AT_PICKUP_POINT, K.IN_TRANSIT, K.REFUSED]
    assert answers["14102192069353"].checkpoints[2].carrier_code == "12:6"


async def test_operations_outside_the_dictionary_stay_in_transit(russian_post: Rig):
    answers = await russian_post.adapter.track(russian_post.credentials, ["EE123456785RU"])

    checkpoints = answers["EE123456785RU"].checkpoints
    assert [(c.carrier_code, c.kind) for c in checkpoints] == [
        ("1:1", K.ACCEPTED),
        ("99:7", K.IN_TRANSIT),  # an operation type we were not written for
        ("2:14", K.IN_TRANSIT),  # handed over, but not said to whom: never taken for an end
        ("5:1", K.LOST),
    ]


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ((1, 1), K.ACCEPTED),
        ((2, 1), K.DELIVERED),
        ((2, 6), K.DELIVERED),
        ((2, 25), K.DELIVERED),
        ((2, 2), K.RETURNED_TO_SENDER),  # handed to the sender: it came back
        ((2, 4), K.RETURNED_TO_SENDER),
        ((2, 99), K.IN_TRANSIT),
        ((3, 1), K.RETURNED_TO_SENDER),  # storage expired
        ((3, 4), K.REFUSED),
        ((5, 1), K.LOST),
        ((5, 2), K.LOST),
        ((5, 3), K.IN_TRANSIT),  # mis-sent: it will be sent on
        ((6, 3), K.ARRIVED_AT_PICKUP_POINT),
        ((8, 0), K.IN_TRANSIT),
        ((8, 2), K.ARRIVED_AT_PICKUP_POINT),
        ((8, 9), K.ARRIVED_AT_PICKUP_POINT),
        ((8, 40), K.IN_TRANSIT),
        ((12, 6), K.IN_TRANSIT),
        ((16, None), K.LOST),
        ((18, None), K.LOST),
        ((21, 2), K.DELIVERED),
        ((26, 1), K.RETURNED_TO_SENDER),
        ((26, 2), None),
        ((28, None), None),
        ((27, None), None),
        ((53, 1), K.IN_TRANSIT),
    ],
)
def test_operation_and_attribute_codes_map_as_the_dictionary_says(operation, kind):
    assert kind_of(*operation) == kind


async def test_the_request_is_the_documented_one_with_credentials_escaped(russian_post: Rig):
    # given: the fake's password has "&" and "<", which only an escaped request carries
    assert "&" in russian_post.fake.password and "<" in russian_post.fake.password

    # when
    answers = await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    # then: the fake parsed the SOAP body and found login, password and barcode
    assert isinstance(answers["RA123456785RU"], Tracking)


async def test_an_operation_history_fault_is_a_problem_with_that_code(russian_post: Rig):
    russian_post.fake.rejected.add("RA123456785RU")

    answers = await russian_post.adapter.track(
        russian_post.credentials, ["RA123456785RU", "14102192069353"]
    )

    problem = answers["RA123456785RU"]
    assert problem == TrackingProblem(
        "RA123456785RU", ProblemKind.REJECTED, "По отправлению нет данных"
    )
    assert isinstance(answers["14102192069353"], Tracking)


LANGUAGE_FAULT = b"""<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault>
<S:Code><S:Value>S:Sender</S:Value></S:Code><S:Reason><S:Text>Language</S:Text></S:Reason>
<S:Detail><ns3:LanguageFaultReason xmlns:ns3="http://russianpost.org/operationhistory/data">
bad</ns3:LanguageFaultReason></S:Detail></S:Fault></S:Body></S:Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>&lol4;</S:Body></S:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>&xxe;</S:Body></S:Envelope>"""

BARE_DTD = b"""<?xml version="1.0"?><!DOCTYPE S:Envelope SYSTEM "http://127.0.0.1:9/x.dtd">
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body/></S:Envelope>"""

NOT_SOAP = b"<?xml version='1.0'?><html><body>maintenance</body></html>"


def history_with(record: str, count: int = 1) -> bytes:
    return (
        '<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>'
        '<ns7:getOperationHistoryResponse xmlns:ns3="http://russianpost.org/operationhistory/data"'
        ' xmlns:ns7="http://russianpost.org/operationhistory"><ns3:OperationHistoryData>'
        + record * count
        + "</ns3:OperationHistoryData></ns7:getOperationHistoryResponse></S:Body></S:Envelope>"
    ).encode()


RECORD = (
    "<ns3:historyRecord><ns3:OperationParameters><ns3:OperType><ns3:Id>{type}</ns3:Id>"
    "<ns3:Name>Прием</ns3:Name></ns3:OperType><ns3:OperDate>{date}</ns3:OperDate>"
    "</ns3:OperationParameters></ns3:historyRecord>"
)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        BARE_DTD,
        NOT_SOAP,
        history_with(RECORD.format(type="1", date="yesterday")),
        history_with(RECORD.format(type="one", date="2015-07-09T18:08:00.000+03:00")),
        history_with(RECORD.format(type="１", date="2015-07-09T18:08:00.000+03:00")),
        history_with(RECORD.format(type="1", date="2015-07-09T18:08:00")),  # no offset
        history_with("<ns3:historyRecord/>"),
        history_with(RECORD.format(type="1", date="2015-07-09T18:08:00+03:00"), count=501),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "dtd",
        "not-soap",
        "bad-date",
        "bad-type",
        "fullwidth-digit",
        "no-offset",
        "empty-record",
        "too-many-records",
    ],
)
async def test_hostile_or_broken_xml_is_malformed(russian_post: Rig, body):
    russian_post.fake.answer_with("RA123456785RU", body)

    with pytest.raises(CarrierError) as raised:
        await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    assert raised.value.kind == FailureKind.MALFORMED


async def test_broken_xml_with_a_server_error_is_the_carrier_being_down(russian_post: Rig):
    russian_post.fake.answer_with("RA123456785RU", b"<html>502 Bad Gateway</html>", status=502)

    with pytest.raises(CarrierError) as raised:
        await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    assert raised.value.kind == FailureKind.UNAVAILABLE


async def test_a_language_fault_is_our_request_being_invalid(russian_post: Rig):
    russian_post.fake.answer_with("RA123456785RU", LANGUAGE_FAULT, status=500)

    with pytest.raises(CarrierError) as raised:
        await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    assert raised.value.kind == FailureKind.INVALID


async def test_a_history_of_ten_thousand_bytes_of_text_is_trimmed(russian_post: Rig):
    record = RECORD.format(type="1", date="2015-07-09T18:08:00+03:00").replace("Прием", "П" * 10000)
    russian_post.fake.answer_with("RA123456785RU", history_with(record))

    answers = await russian_post.adapter.track(russian_post.credentials, ["RA123456785RU"])

    assert len(answers["RA123456785RU"].checkpoints[0].description) <= 300


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("14102192069353", True),  # domestic: 14 digits
        ("1410219206935", False),
        ("141021920693531", False),
        ("RA123456785RU", True),  # S10 with its check digit
        ("RA123456789RU", False),  # the check digit is wrong
        ("EE123456785RU", True),
        ("ra123456785ru", False),  # as typed: normalize first
        ("RA 123456785 RU", False),
        ("RA12345678RU", False),
        ("", False),
        ("RA123456785RU\n", False),
    ],
)
def test_valid_code_follows_the_documented_formats(code, valid):
    assert RussianPostAdapter(transport=None).valid_code(code) is valid  # type: ignore[arg-type]


def test_a_typed_code_is_normalized_to_the_carriers_form():
    adapter = RussianPostAdapter(transport=None)  # type: ignore[arg-type]

    assert adapter.valid_code(normalize_code(" ra 123456785 ru "))


def test_the_free_quota_sets_the_pace_and_a_contract_lifts_it():
    assert RussianPostAdapter(transport=None).min_interval == 864.0  # type: ignore[arg-type]
    unlimited = RussianPostAdapter(transport=None, daily_quota=None)  # type: ignore[arg-type]
    assert unlimited.min_interval == 1.0
