"""Telegram's initData (core.telegram.org/bots/webapps, "Validating data received via the
Mini App"): what Telegram signs is believed, anything forged, stale or malformed is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from aiogram.utils.web_app import check_webapp_signature, safe_parse_webapp_init_data
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox.webapp import sign_init_data
from services.desk.launch import LaunchRefused, verify

TOKEN = "123456:LAUNCH-TEST"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
USER = {
    "id": 279058397,
    "first_name": "Olga",
    "last_name": "K",
    "username": "olga",
    "language_code": "uk",
}


def fields(**changes) -> dict[str, str]:
    base = {
        "auth_date": str(int(NOW.timestamp()) - 60),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(USER, separators=(",", ":")),
    }
    base.update(changes)
    return base


def test_a_launch_telegram_signed_names_its_user():
    # given: initData as Telegram makes it
    raw = sign_init_data(TOKEN, fields())
    # then: aiogram's own check agrees it is Telegram's (the documented algorithm, twice)
    assert check_webapp_signature(TOKEN, raw)
    assert safe_parse_webapp_init_data(TOKEN, raw).user.id == USER["id"]
    # when
    launch = verify(raw, TOKEN, NOW)
    # then
    assert launch.telegram_id == USER["id"]
    assert (launch.name, launch.username, launch.language_code) == ("Olga K", "olga", "uk")


def test_extra_fields_telegram_adds_are_signed_too():
    raw = sign_init_data(TOKEN, fields(chat_type="sender", chat_instance="-42", signature="abc"))
    assert verify(raw, TOKEN, NOW).telegram_id == USER["id"]


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(timedelta(hours=24) - timedelta(seconds=1), True), (timedelta(hours=24, seconds=1), False)],
)
def test_a_launch_older_than_a_day_is_refused(age, accepted):
    raw = sign_init_data(TOKEN, fields(auth_date=str(int((NOW - age).timestamp()))))
    if accepted:
        assert verify(raw, TOKEN, NOW)
    else:
        with pytest.raises(LaunchRefused, match="stale"):
            verify(raw, TOKEN, NOW)


def test_a_launch_from_the_future_is_refused():
    raw = sign_init_data(TOKEN, fields(auth_date=str(int((NOW + timedelta(hours=1)).timestamp()))))
    with pytest.raises(LaunchRefused, match="future"):
        verify(raw, TOKEN, NOW)


def test_another_bots_launch_is_refused():
    raw = sign_init_data("999:OTHER-BOT", fields())
    with pytest.raises(LaunchRefused, match="signature"):
        verify(raw, TOKEN, NOW)


def tampered(raw: str, name: str, value: str) -> str:
    pairs = dict(parse_qsl(raw, keep_blank_values=True))
    pairs[name] = value
    return urlencode(pairs, quote_via=quote)


@pytest.mark.parametrize(
    "forge",
    [
        lambda raw: tampered(raw, "user", json.dumps({**USER, "id": 1})),  # someone else
        lambda raw: tampered(raw, "auth_date", str(int(NOW.timestamp()))),  # made fresh again
        lambda raw: tampered(raw, "hash", "0" * 64),
        lambda raw: tampered(raw, "hash", ""),
        lambda raw: raw.replace("&hash=", "&hash=x"),  # 65 characters
        lambda raw: "&".join(p for p in raw.split("&") if not p.startswith("hash=")),
        lambda raw: raw + "&user=" + quote(json.dumps({**USER, "id": 1})),  # a field twice
        lambda raw: raw + "&x=" + "a" * 5000,  # oversized
        lambda raw: "",
        lambda raw: "not a query string",
        lambda raw: raw.replace("&", ";"),
    ],
)
def test_forged_launches_are_refused(forge):
    raw = sign_init_data(TOKEN, fields())
    with pytest.raises(LaunchRefused):
        verify(forge(raw), TOKEN, NOW)


@pytest.mark.parametrize(
    "user",
    [
        '{"id": true, "first_name": "A"}',
        '{"id": "42"}',
        '{"id": -5}',
        '{"id": 4503599627370496}',
        "[1]",
        "null",
        "{",
    ],
)
def test_a_signed_but_malformed_user_is_refused(user):
    # Telegram would never sign these; if a bug there ever did, it does not become ours
    raw = sign_init_data(TOKEN, fields(user=user))
    with pytest.raises(LaunchRefused):
        verify(raw, TOKEN, NOW)


def test_without_a_bot_token_nothing_is_believed():
    with pytest.raises(LaunchRefused):
        verify(sign_init_data("", fields()), "", NOW)


field_names = st.sampled_from(["auth_date", "query_id", "user", "hash", "chat_type", "start_param"])
values = st.text(max_size=80)


@settings(max_examples=200, deadline=None)
@given(name=field_names, value=values)
def test_any_changed_field_is_refused(name, value):
    """Hypothesis: change one field of a genuine launch to anything else, and it proves nothing."""
    original = fields()
    raw = sign_init_data(TOKEN, original)
    current = dict(parse_qsl(raw, keep_blank_values=True))
    if current.get(name) == value:
        return  # not a change
    with pytest.raises(LaunchRefused):
        verify(tampered(raw, name, value), TOKEN, NOW)


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=300))
def test_any_text_is_refused_without_an_error(raw):
    with pytest.raises(LaunchRefused):
        verify(raw, TOKEN, NOW)
