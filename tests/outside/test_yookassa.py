"""The YooKassa client against a fake YooKassa on loopback (tests/outside/fakes/yookassa.py).

The real HTTP transport is used; only time is injected: the client's pauses are recorded by a
sleep that returns at once, so a test can say "it waited the 2.5 s YooKassa asked for".
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bot.outbound import AiohttpTransport
from services.outside.http import MalformedAnswer
from services.payments.yookassa import (
    DEFAULT_BASE_URL,
    ErrorKind,
    ProviderError,
    YooKassaClient,
    YooKassaCredentials,
    format_amount,
    parse_amount,
)
from tests.outside.conftest import (
    CREDENTIALS,
    RETURN_URL,
    SECRET,
    SHOP,
    RecordedSleep,
    create,
)
from tests.outside.fakes.yookassa import FakeYooKassa

# --- round trips ------------------------------------------------------------------------------


async def test_create_sends_the_documented_request_and_reads_the_payment(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    # when
    payment = await create(client)
    # then
    assert (payment.status, payment.paid) == ("pending", False)
    assert (payment.amount_minor, payment.currency) == (123450, "RUB")
    assert payment.metadata == {"order_id": "42", "shop_id": "7"}
    assert payment.confirmation_url == (
        f"https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId={payment.id}"
    )
    assert payment.cancellation_reason is None
    [sent] = yookassa.posts("/payments")
    assert sent.idempotence_key == "order-42-pay-1"
    basic = base64.b64encode(f"{SHOP}:{SECRET}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {basic}"
    assert sent.json() == {
        "amount": {"value": "1234.50", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": RETURN_URL},
        "description": "Заказ A-1042",
        "metadata": {"order_id": "42", "shop_id": "7"},
    }


async def test_a_receipt_goes_along_as_given(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    receipt = {"customer": {"email": "ivan@example.com"}, "items": []}

    await create(client, receipt=receipt)

    assert yookassa.posts("/payments")[0].json()["receipt"] == receipt


async def test_get_follows_the_buyer_paying(client: YooKassaClient, yookassa: FakeYooKassa) -> None:
    # given
    created = await create(client)
    # when the buyer pays on YooKassa's page
    yookassa.succeed(created.id)
    fetched = await client.get_payment(CREDENTIALS, created.id)
    # then
    assert (fetched.id, fetched.status, fetched.paid) == (created.id, "succeeded", True)
    assert fetched.raw["payment_method"]["type"] == "bank_card"
    get = yookassa.requests[-1]
    assert (get.method, get.idempotence_key) == ("GET", None)  # GETs need no key


async def test_a_two_stage_payment_waits_for_capture(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    created = await create(client, capture=False)

    yookassa.succeed(created.id)
    fetched = await client.get_payment(CREDENTIALS, created.id)

    assert (fetched.status, fetched.paid) == ("waiting_for_capture", True)
    assert yookassa.posts("/payments")[0].json()["capture"] is False


async def test_a_canceled_payment_says_why(client: YooKassaClient, yookassa: FakeYooKassa) -> None:
    created = await create(client)

    yookassa.cancel(created.id, reason="insufficient_funds", party="payment_network")
    fetched = await client.get_payment(CREDENTIALS, created.id)

    assert (fetched.status, fetched.paid) == ("canceled", False)
    assert fetched.cancellation_reason == "insufficient_funds"


async def test_refund_round_trip(client: YooKassaClient, yookassa: FakeYooKassa) -> None:
    # given a paid payment
    payment = await create(client)
    yookassa.succeed(payment.id)
    # when part of it is refunded
    refund = await client.create_refund(
        CREDENTIALS,
        payment_id=payment.id,
        amount_minor=50000,
        currency="RUB",
        idempotence_key="return-9-refund",
        description="Возврат по заявке 9",
    )
    fetched = await client.get_refund(CREDENTIALS, refund.id)
    # then
    assert (refund.payment_id, refund.status, refund.amount_minor) == (
        payment.id,
        "succeeded",
        50000,
    )
    assert fetched == refund
    [sent] = yookassa.posts("/refunds")
    assert sent.idempotence_key == "return-9-refund"
    assert sent.json() == {
        "payment_id": payment.id,
        "amount": {"value": "500.00", "currency": "RUB"},
        "description": "Возврат по заявке 9",
    }
    assert yookassa.payments[payment.id]["refunded_amount"] == {
        "value": "500.00",
        "currency": "RUB",
    }


async def test_a_refund_may_stay_pending(client: YooKassaClient, yookassa: FakeYooKassa) -> None:
    payment = await create(client)
    yookassa.succeed(payment.id)
    yookassa.refund_status = "pending"

    refund = await client.create_refund(
        CREDENTIALS, payment_id=payment.id, amount_minor=100, currency="RUB", idempotence_key="r1"
    )

    assert refund.status == "pending"


# --- idempotence and YooKassa's retries -------------------------------------------------------


async def test_the_same_key_and_data_give_the_same_payment(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    first = await create(client, key="k-1")

    second = await create(client, key="k-1")

    assert second.id == first.id
    assert len(yookassa.payments) == 1


async def test_the_same_key_with_other_data_is_refused_as_documented(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    await create(client, key="k-1")

    with pytest.raises(ProviderError) as caught:
        await create(client, key="k-1", amount_minor=99900)

    error = caught.value
    assert (error.kind, error.code, error.parameter) == (
        ErrorKind.INVALID,
        "invalid_request",
        "Idempotence-Key",
    )
    assert "Idempotence key duplicated" in str(error)
    assert len(yookassa.payments) == 1


async def test_processing_202_is_asked_again_with_the_same_key_after_retry_after(
    client: YooKassaClient, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    # given YooKassa accepts the request but answers "processing, ask again in 2.5 s"
    yookassa.fail_next("processing", retry_after_ms=2500)
    # when
    payment = await create(client, key="k-202")
    # then the second ask got the payment the first one made, not a new one
    assert sleep.pauses == [2.5]
    assert [r.idempotence_key for r in yookassa.posts("/payments")] == ["k-202", "k-202"]
    assert list(yookassa.payments) == [payment.id]


async def test_an_http_500_is_asked_again_with_the_same_key(
    client: YooKassaClient, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    # given the refund is made but the answer is a 500 (the outcome YooKassa calls unknown)
    payment = await create(client)
    yookassa.succeed(payment.id)
    yookassa.fail_next("server_error")
    # when
    refund = await client.create_refund(
        CREDENTIALS,
        payment_id=payment.id,
        amount_minor=100,
        currency="RUB",
        idempotence_key="r-500",
    )
    # then one refund, found by the retry; the default pause of YooKassa's SDKs
    assert list(yookassa.refunds) == [refund.id]
    assert sleep.pauses == [1.8]
    assert len(yookassa.posts("/refunds")) == 2


async def test_still_processing_after_all_attempts_is_unavailable(
    client: YooKassaClient, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    yookassa.fail_next("processing", count=3, retry_after_ms=1000)

    with pytest.raises(ProviderError) as caught:
        await create(client, key="k-slow")

    assert caught.value.kind == ErrorKind.UNAVAILABLE
    assert caught.value.retry_after == 1.0
    assert sleep.pauses == [1.0, 1.0]  # three attempts, two pauses between them
    assert len(yookassa.posts("/payments")) == 3


async def test_a_hostile_retry_after_is_capped(
    client: YooKassaClient, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    yookassa.fail_next("processing", retry_after_ms=10**12)

    await create(client)

    assert sleep.pauses == [60.0]


async def test_no_answer_at_all_is_retried_then_unavailable(
    transport: AiohttpTransport, sleep: RecordedSleep
) -> None:
    # given a YooKassa that is gone (its port closed)
    gone = await FakeYooKassa({SHOP: SECRET}).start()
    url = gone.url
    await gone.stop()
    client = YooKassaClient(transport, url, sleep=sleep, attempts=2)
    # when / then
    with pytest.raises(ProviderError) as caught:
        await client.get_payment(CREDENTIALS, "2419a771-000f-5000-9000-1edaf29243f2")
    assert caught.value.kind == ErrorKind.UNAVAILABLE
    assert sleep.pauses == [1.8]


# --- each kind of error -----------------------------------------------------------------------


async def test_wrong_credentials_are_unauthorized(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    with pytest.raises(ProviderError) as caught:
        await client.get_payment(YooKassaCredentials(SHOP, "test_wrong"), "2419a771-000f-5000")

    assert (caught.value.kind, caught.value.code) == (ErrorKind.UNAUTHORIZED, "invalid_credentials")


async def test_a_key_without_the_right_is_unauthorized(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    yookassa.fail_next("forbidden")

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert (caught.value.kind, caught.value.code) == (ErrorKind.UNAUTHORIZED, "forbidden")


async def test_an_unknown_payment_is_not_found(client: YooKassaClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await client.get_payment(CREDENTIALS, "2419a771-000f-5000-9000-1edaf29243f2")

    assert (caught.value.kind, caught.value.code) == (ErrorKind.NOT_FOUND, "not_found")


async def test_another_shops_payment_is_not_found(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    yookassa.shops["777"] = "test_other"
    payment = await create(client)

    with pytest.raises(ProviderError) as caught:
        await client.get_payment(YooKassaCredentials("777", "test_other"), payment.id)

    assert caught.value.kind == ErrorKind.NOT_FOUND


async def test_too_many_requests_is_rate_limited_and_not_retried(
    client: YooKassaClient, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    yookassa.fail_next("rate_limited")

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert (caught.value.kind, caught.value.code) == (ErrorKind.RATE_LIMITED, "too_many_requests")
    assert sleep.pauses == []
    assert len(yookassa.posts("/payments")) == 1


async def test_a_refund_beyond_the_payment_is_invalid(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    payment = await create(client)
    yookassa.succeed(payment.id)

    with pytest.raises(ProviderError) as caught:
        await client.create_refund(
            CREDENTIALS,
            payment_id=payment.id,
            amount_minor=123451,
            currency="RUB",
            idempotence_key="too-much",
        )

    error = caught.value
    assert (error.kind, error.code, error.parameter) == (
        ErrorKind.INVALID,
        "invalid_request",
        "amount",
    )
    assert yookassa.refunds == {}


async def test_an_answer_that_is_not_json_is_malformed(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    yookassa.fail_next("garbage")

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert caught.value.kind == ErrorKind.MALFORMED


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"amount": {"value": "1234,50", "currency": "RUB"}}, "a comma"),
        ({"amount": {"value": "1.2345e3", "currency": "RUB"}}, "an exponent"),
        ({"amount": {"value": "-1234.50", "currency": "RUB"}}, "a sign"),
        ({"amount": {"value": "1234.505", "currency": "RUB"}}, "more places than RUB has"),
        ({"amount": {"value": 1234.5, "currency": "RUB"}}, "a number, not a string"),
        ({"amount": {"value": "1234.50", "currency": "rub"}}, "a lower-case currency"),
        ({"status": "paid"}, "an undocumented status"),
        ({"paid": "true"}, "paid as a string"),
        ({"status": "succeeded", "paid": False}, "succeeded yet not paid"),
        ({"id": "../refunds/1"}, "an id that is not an id"),
        ({"metadata": {"order_id": 42}}, "metadata that is not strings"),
        ({"confirmation": {"type": "redirect", "confirmation_url": "javascript:alert(1)"}}, "url"),
        ({"cancellation_details": "expired"}, "cancellation details that are not an object"),
    ],
)
async def test_answers_off_the_documented_shape_are_malformed(
    client: YooKassaClient, yookassa: FakeYooKassa, change: dict[str, Any], why: str
) -> None:
    # given YooKassa (or something pretending) keeps a payment in a shape it never documents
    payment = await create(client)
    yookassa.payments[payment.id].update(change)
    # when / then
    with pytest.raises(ProviderError) as caught:
        await client.get_payment(CREDENTIALS, payment.id)
    assert caught.value.kind == ErrorKind.MALFORMED, why


async def test_a_payment_that_comes_back_as_another_is_malformed(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    payment = await create(client)
    yookassa.fail_next("garbage", body={**yookassa.payments[payment.id], "id": "someone-else"})

    with pytest.raises(ProviderError) as caught:
        await client.get_payment(CREDENTIALS, payment.id)

    assert caught.value.kind == ErrorKind.MALFORMED


async def test_an_id_that_would_leave_the_path_is_never_sent(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    with pytest.raises(ValueError, match="not a YooKassa object id"):
        await client.get_payment(CREDENTIALS, "../refunds/x")

    assert yookassa.requests == []


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [(123450, "RUB", "1234.50"), (5, "RUB", "0.05"), (1500, "JPY", "1500"), (1234, "KWD", "1.234")],
)
async def test_amounts_cross_in_the_currencys_own_places(
    client: YooKassaClient, yookassa: FakeYooKassa, minor: int, currency: str, value: str
) -> None:
    # when
    created = await create(client, amount_minor=minor, currency=currency)
    fetched = await client.get_payment(CREDENTIALS, created.id)
    # then
    assert yookassa.posts("/payments")[0].json()["amount"] == {"value": value, "currency": currency}
    assert (fetched.amount_minor, fetched.currency) == (minor, currency)


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [("100.00", "RUB", 10000), ("100.5", "RUB", 10050), ("100", "RUB", 10000), ("7", "JPY", 7)],
)
def test_parse_amount_reads_the_documented_notation(value: str, currency: str, minor: int) -> None:
    assert parse_amount(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("", "RUB"),
        (" 1.00", "RUB"),
        ("1.00 ", "RUB"),
        ("+1.00", "RUB"),
        ("01.00", "RUB"),
        ("1.", "RUB"),
        (".5", "RUB"),
        ("1_000.00", "RUB"),
        ("NaN", "RUB"),
        ("Infinity", "RUB"),
        ("１.００", "RUB"),  # full-width digits
        ("1.5", "JPY"),
        (None, "RUB"),
        (True, "RUB"),
        ("1.00", "R1B"),
    ],
)
def test_parse_amount_rejects_garbage(value: Any, currency: str) -> None:
    with pytest.raises(MalformedAnswer):
        parse_amount(value, currency)


def test_format_amount_refuses_what_is_not_minor_units() -> None:
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(ValueError):
            format_amount(bad, "RUB")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_amount(100, "rub")


# --- the secret key ---------------------------------------------------------------------------


def assert_no_secret(text: str) -> None:
    token = base64.b64encode(f"{SHOP}:{SECRET}".encode()).decode()
    assert SECRET not in text and token not in text, text


async def test_the_secret_never_shows_in_errors(
    transport: AiohttpTransport, yookassa: FakeYooKassa, sleep: RecordedSleep
) -> None:
    client = YooKassaClient(transport, yookassa.url, sleep=sleep, attempts=1)
    token = base64.b64encode(f"{SHOP}:{SECRET}".encode()).decode()
    # a server that echoes what it got, as a hostile or buggy proxy could
    echo = {"type": "error", "code": "invalid_request", "description": f"{SECRET} / Basic {token}"}
    faults: list[tuple[str, Any]] = [
        ("bad_request", echo),
        ("unauthorized", None),
        ("forbidden", None),
        ("rate_limited", None),
        ("server_error", None),
        ("garbage", f"<html>{SECRET}</html>".encode()),
        ("processing", None),
    ]
    kinds = set()
    for fault, body in faults:
        yookassa.fail_next(fault, body=body)
        with pytest.raises(ProviderError) as caught:
            await create(client)
        kinds.add(caught.value.kind)
        assert_no_secret(str(caught.value))
        assert_no_secret(repr(caught.value))
    with pytest.raises(ProviderError) as caught:
        await client.get_payment(CREDENTIALS, "2419a771-000f-5000-9000-1edaf29243f2")
    assert_no_secret(str(caught.value) + repr(caught.value))
    assert kinds == {"invalid", "unauthorized", "rate_limited", "unavailable", "malformed"}


def test_credentials_hide_the_key() -> None:
    assert_no_secret(repr(CREDENTIALS))
    assert_no_secret(str(CREDENTIALS))
    with pytest.raises(ValueError) as caught:
        YooKassaCredentials("shop:1", SECRET)
    assert_no_secret(str(caught.value))


def test_the_default_address_is_yookassas() -> None:
    assert DEFAULT_BASE_URL == "https://api.yookassa.ru/v3"
