"""Reading YooKassa's notifications (only for what to fetch back) and where they come from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.payments.yookassa import (
    NotificationInvalid,
    YooKassaClient,
    is_yookassa_address,
    parse_notification,
)
from tests.outside.conftest import CREDENTIALS, create
from tests.outside.fakes.yookassa import FakeYooKassa


async def test_a_documented_notification_names_what_to_fetch_back(
    client: YooKassaClient, yookassa: FakeYooKassa
) -> None:
    payment = await create(client)
    yookassa.succeed(payment.id)

    notification = parse_notification(yookassa.notification("payment.succeeded", payment.id))

    assert (notification.event, notification.object_id) == ("payment.succeeded", payment.id)
    assert (notification.object_status, notification.object_kind) == ("succeeded", "payment")


async def test_a_refund_notification(client: YooKassaClient, yookassa: FakeYooKassa) -> None:
    payment = await create(client)
    yookassa.succeed(payment.id)
    refund = await client.create_refund(
        CREDENTIALS, payment_id=payment.id, amount_minor=100, currency="RUB", idempotence_key="r"
    )

    notification = parse_notification(yookassa.notification("refund.succeeded", refund.id))

    assert (notification.object_kind, notification.object_id) == ("refund", refund.id)


def test_a_notification_without_status_still_names_the_object() -> None:
    body = {"type": "notification", "event": "payment.canceled", "object": {"id": "22d6d597-000f"}}

    notification = parse_notification(json.dumps(body).encode())

    assert (notification.object_id, notification.object_status) == ("22d6d597-000f", None)


def notification(**changes: Any) -> bytes:
    body: dict[str, Any] = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {"id": "22d6d597-000f-5000-9000-145f6df21d6f", "status": "succeeded"},
    }
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"[" * 60_000, "not JSON"),  # nesting deep enough to blow a naive parser
        (b'["notification"]', "not a JSON object"),
        (notification(type="webhook"), '"type"'),
        (notification(event="payment.refunded"), "event"),
        (notification(event="deal.closed"), "event"),
        (notification(event=["payment.succeeded"]), "event"),
        (notification(object="22d6d597"), '"object"'),
        (notification(object={"status": "succeeded"}), '"object.id"'),
        (notification(object={"id": 42}), '"object.id"'),
        (notification(object={"id": "../../v3/refunds"}), '"object.id"'),
        (notification(object={"id": "22d6d597-000f", "status": "pending"}), "does not match"),
        (b'{"type": "notification", ' + b" " * 70_000 + b"}", "over 65536 bytes"),
    ],
)
def test_forged_or_broken_notifications_are_refused(body: bytes, says: str) -> None:
    with pytest.raises(NotificationInvalid, match=says):
        parse_notification(body)


@pytest.mark.parametrize(
    ("ip", "theirs"),
    [
        ("185.71.76.1", True),
        ("185.71.77.31", True),
        ("185.71.77.32", False),  # just past the /27
        ("77.75.153.127", True),
        ("77.75.156.11", True),
        ("77.75.156.12", False),
        ("77.75.154.200", True),
        ("2a02:5180:0:1509::1", True),
        ("::ffff:185.71.76.5", True),  # IPv4 seen through an IPv6 socket
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("not an address", False),
        ("", False),
    ],
)
def test_is_yookassa_address(ip: str, theirs: bool) -> None:
    assert is_yookassa_address(ip) is theirs
