"""What every carrier adapter must do alike, each against its own fake: whole-request
failures as CarrierError of the right kind (never another exception), per-code problems,
batches and pacing, and answers that are not what the documentation promised."""

from __future__ import annotations

import pytest

from services.carriers.base import (
    CarrierError,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
)
from tests.outside.conftest import Rig


async def test_a_known_code_is_tracked_and_counted_once(rig: Rig):
    # given / when
    answers = await rig.adapter.track(rig.credentials, [rig.known])

    # then
    assert isinstance(answers[rig.known], Tracking)
    assert answers[rig.known].checkpoints
    assert rig.fake.requests[rig.known] == 1


async def test_an_unknown_code_is_not_found_and_a_malformed_one_is_never_sent(rig: Rig):
    answers = await rig.adapter.track(rig.credentials, [rig.unknown, rig.malformed_code])

    assert set(answers) == {rig.unknown, rig.malformed_code}
    unknown = answers[rig.unknown]
    if rig.name == "russian_post":
        # Russian Post answers an empty history for a code it has no operation for.
        assert unknown == Tracking(rig.unknown)
    else:
        assert isinstance(unknown, TrackingProblem)
        assert unknown.kind == ProblemKind.NOT_FOUND
    assert answers[rig.malformed_code].kind == ProblemKind.INVALID_CODE
    assert rig.fake.requests[rig.malformed_code] == 0


async def test_wrong_credentials_are_unauthorized(rig: Rig):
    with pytest.raises(CarrierError) as raised:
        await rig.adapter.track(rig.wrong_credentials, [rig.known])

    assert raised.value.kind == FailureKind.UNAUTHORIZED
    assert "wrong" not in str(raised.value)  # the secret given is never repeated


async def test_a_missing_credential_is_refused_before_any_request(rig: Rig):
    with pytest.raises(CarrierError) as raised:
        await rig.adapter.track({}, [rig.known])

    assert raised.value.kind == FailureKind.INVALID
    assert rig.fake.total == 0


@pytest.mark.parametrize(
    ("how", "kind"),
    [
        ("401", FailureKind.UNAUTHORIZED),
        ("429", FailureKind.RATE_LIMITED),
        ("500", FailureKind.UNAVAILABLE),
        ("garbage", FailureKind.MALFORMED),
        ("huge", FailureKind.MALFORMED),
    ],
)
async def test_a_failing_request_is_a_carrier_error_of_its_kind(rig: Rig, how, kind):
    # given: CDEK first fetches a token; the failure is meant for the tracking request
    if rig.name == "cdek":
        await rig.adapter.track(rig.credentials, [rig.known])
    # CDEK answers a 401 by fetching a new token once, so it must fail twice to give up.
    rig.fake.fail_next(2 if (rig.name, how) == ("cdek", "401") else 1, how)

    # when
    with pytest.raises(CarrierError) as raised:
        await rig.adapter.track(rig.credentials, [rig.known])

    # then
    assert raised.value.kind == kind
    if how == "429":
        assert raised.value.retry_after == 7.0
    else:
        assert raised.value.retry_after is None


@pytest.mark.parametrize("time_limit", [0.5])  # the fake holds the request until then
async def test_a_request_the_carrier_holds_too_long_is_unavailable(rig: Rig, time_limit):
    if rig.name == "cdek":  # its token first: the hold is meant for the tracking request
        await rig.adapter.track(rig.credentials, [rig.known])
    rig.fake.fail_next(1, "timeout")

    with pytest.raises(CarrierError) as raised:
        await rig.adapter.track(rig.credentials, [rig.known])

    assert raised.value.kind == FailureKind.UNAVAILABLE
    assert raised.value.retry_after is None


async def test_the_next_request_after_a_failure_succeeds(rig: Rig):
    rig.fake.fail_next(1, "500")
    with pytest.raises(CarrierError):
        await rig.adapter.track(rig.credentials, [rig.known])

    answers = await rig.adapter.track(rig.credentials, [rig.known])

    assert isinstance(answers[rig.known], Tracking)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"42",
        b'"text"',
        b"[1, 2, 3]",
        b'{"unexpected": {"shape": true}}',
        b"[" * 50000 + b"]" * 50000,  # nesting deep enough to break a naive parser
        '{"err": null, "Name": "\u202eevil"}'.encode(),
    ],
    ids=["empty", "null", "number", "string", "list", "object", "deep", "bidi-text"],
)
async def test_answers_of_the_wrong_shape_are_malformed_never_another_error(rig: Rig, body):
    # given
    rig.fake.answer_with(rig.known, body)

    # when
    try:
        answers = await rig.adapter.track(rig.credentials, [rig.known])
    except CarrierError as error:
        # then: either refused as malformed ...
        assert error.kind == FailureKind.MALFORMED
    else:
        # ... or, for Boxberry's error form and the like, an answer about the code
        assert isinstance(answers[rig.known], TrackingProblem | Tracking)
        assert rig.name == "boxberry" and body.startswith(b"{")


async def test_each_code_is_asked_once_even_when_repeated(rig: Rig):
    answers = await rig.adapter.track(rig.credentials, [rig.known, rig.known, rig.unknown])

    assert set(answers) == {rig.known, rig.unknown}
    assert rig.fake.requests[rig.known] == 1


async def test_what_earlier_batches_answered_survives_a_later_failure(rig: Rig):
    # given: two requests' worth of codes (Nova Poshta asks 100 a request, the others one)
    codes = [rig.known, rig.unknown]
    if rig.adapter.max_batch > 1:
        codes = [rig.known] + [f"2040000000{n:04d}" for n in range(1, rig.adapter.max_batch)]
        codes.append(rig.unknown)
    if rig.name == "cdek":
        await rig.adapter.track(rig.credentials, ["1000000001"])  # a token first
    before = rig.fake.total
    rig.fake.fail_next(1, "500", after=1)

    # when
    with pytest.raises(CarrierError) as raised:
        await rig.adapter.track(rig.credentials, [rig.malformed_code, *codes])

    # then
    assert raised.value.kind == FailureKind.UNAVAILABLE
    assert raised.value.done[rig.malformed_code].kind == ProblemKind.INVALID_CODE
    assert isinstance(raised.value.done[rig.known], Tracking)
    assert rig.unknown not in raised.value.done
    assert rig.fake.total - before == 2


async def test_requests_are_paced_by_min_interval_per_account(rig: Rig):
    codes = [rig.known, rig.unknown]
    if rig.adapter.max_batch > 1:
        codes = [f"2040000000{n:04d}" for n in range(rig.adapter.max_batch + 1)]

    await rig.adapter.track(rig.credentials, codes)

    assert rig.sleeper.waits  # the second request waited ...
    assert all(0 < wait <= rig.adapter.min_interval for wait in rig.sleeper.waits)
    assert max(rig.sleeper.waits) == pytest.approx(rig.adapter.min_interval)


async def test_an_unreachable_carrier_is_unavailable_and_the_message_keeps_no_secret(
    transport, sleeper, clock
):
    from services.carriers.boxberry import BoxberryAdapter

    # given: nothing listens on port 9 of loopback
    adapter = BoxberryAdapter(
        transport, "http://127.0.0.1:9/json.php", sleep=sleeper, clock=clock, time_limit=0.5
    )

    with pytest.raises(CarrierError) as raised:
        await adapter.track({"token": "the-shops-secret-token"}, ["AAP298792807"])

    assert raised.value.kind == FailureKind.UNAVAILABLE
    assert "the-shops-secret-token" not in str(raised.value)
