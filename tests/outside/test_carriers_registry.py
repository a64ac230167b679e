"""The shared vocabulary (kinds, trackings, errors), the registry the composition root builds,
and the buyers' tracking links for every carrier a shop may name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from services.carriers import (
    CARRIERS,
    CarrierAdapter,
    CarrierError,
    Checkpoint,
    EventKind,
    FailureKind,
    Tracking,
    build_adapters,
    display_name,
    normalize_code,
    tracking_url,
)
from services.carriers.links import TRACKING_PAGES


def test_event_kinds_are_exactly_the_seven():
    assert [k.value for k in EventKind] == [
        "accepted",
        "in_transit",
        "arrived_at_pickup_point",
        "delivered",
        "returned_to_sender",
        "refused",
        "lost",
    ]


def point(kind, hour) -> Checkpoint:
    return Checkpoint(kind, datetime(2026, 1, 1, hour, tzinfo=UTC), "", "", "x")


def test_a_tracking_is_sorted_by_time_and_final_by_its_last_checkpoint():
    tracking = Tracking("C", (point(EventKind.DELIVERED, 9), point(EventKind.ACCEPTED, 1)))

    assert [c.kind for c in tracking.checkpoints] == [EventKind.ACCEPTED, EventKind.DELIVERED]
    assert tracking.final
    assert not Tracking("C", (point(EventKind.ARRIVED_AT_PICKUP_POINT, 1),)).final
    assert not Tracking("C").final


def test_a_checkpoint_time_must_be_utc():
    with pytest.raises(ValueError):
        Checkpoint(EventKind.ACCEPTED, datetime(2026, 1, 1), "", "", "1")
    with pytest.raises(ValueError):
        moscow = timezone(timedelta(hours=3))
        Checkpoint(EventKind.ACCEPTED, datetime(2026, 1, 1, tzinfo=moscow), "", "", "1")


def test_a_carrier_error_keeps_its_kind_and_wait():
    error = CarrierError("rate_limited", "slow down", retry_after=7)

    assert error.kind is FailureKind.RATE_LIMITED
    assert error.retry_after == 7
    with pytest.raises(ValueError):
        CarrierError("on_fire", "no such kind")


def test_the_registry_builds_every_adapter_with_its_documented_defaults():
    adapters = build_adapters(transport=None)  # type: ignore[arg-type]

    assert set(adapters) == {"russian_post", "cdek", "boxberry", "nova_poshta"}
    for name, adapter in adapters.items():
        assert isinstance(adapter, CarrierAdapter)
        assert adapter.name == name and name in CARRIERS
        assert adapter.max_batch >= 1 and adapter.min_interval > 0
        assert adapter.credential_fields
    assert adapters["nova_poshta"].max_batch == 100
    assert adapters["cdek"].credential_fields == ("client_id", "client_secret")


def test_the_registry_takes_base_urls_from_settings():
    adapters = build_adapters(None, {"cdek": "http://127.0.0.1:9/"})  # type: ignore[arg-type]

    assert adapters["cdek"]._base == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "urls", [{"dhl": "https://dhl.example"}, {"cdek": "ftp://x"}, {"cdek": "not a url"}]
)
def test_the_registry_refuses_urls_it_cannot_use(urls):
    with pytest.raises(ValueError):
        build_adapters(None, urls)  # type: ignore[arg-type]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_every_carrier_has_names_and_a_link_where_it_publishes_one(carrier):
    names = CARRIERS[carrier]
    assert {"ru", "uk", "en"} <= set(names) and all(names.values())

    url = tracking_url(carrier, "AB 12/3?x=1&y#z")

    if carrier in TRACKING_PAGES:
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname
        assert "AB%2012%2F3%3Fx%3D1%26y%23z" in url
        assert "#" not in url and " " not in url
    else:
        assert url is None


def test_known_links():
    assert tracking_url("russian_post", "RA123456785RU") == (
        "https://www.pochta.ru/tracking?barcode=RA123456785RU"
    )
    assert tracking_url("cdek", "1106207236") == (
        "https://www.cdek.ru/ru/tracking?order_id=1106207236"
    )
    assert tracking_url("nova_poshta", "20400048799000") == (
        "https://novaposhta.ua/tracking/?cargo_number=20400048799000"
    )


@pytest.mark.parametrize(("carrier", "code"), [("dhl", "1"), ("cdek", ""), ("cdek", "1" * 65)])
def test_no_link_for_an_unknown_carrier_or_an_unusable_code(carrier, code):
    assert tracking_url(carrier, code) is None


def test_display_names_by_language():
    assert display_name("nova_poshta", "uk") == "Нова пошта"
    assert display_name("nova_poshta", "en") == "Nova Poshta"
    assert display_name("cdek", "de") == "CDEK"
    assert display_name("dhl") == "dhl"


def test_a_typed_code_is_normalized():
    assert normalize_code(" aap-298 792807\t") == "AAP298792807"


def test_an_answer_over_the_cap_is_refused_before_it_is_parsed():
    from services.carriers.calls import MAX_ANSWER_BYTES, check_size
    from services.outside.http import HttpReply

    check_size(HttpReply(200, b"x" * MAX_ANSWER_BYTES), "X")  # at the cap: read

    with pytest.raises(CarrierError) as raised:
        check_size(HttpReply(200, b"x" * (MAX_ANSWER_BYTES + 1)), "X")
    assert raised.value.kind == FailureKind.MALFORMED
