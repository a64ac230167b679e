"""SECRET_KEY rotation: the new key signs, the old ones still verify (links and reply addresses
already sent keep working), the vault opens with every key, and `secrets reseal` moves every
sealed value onto the newest key, through the columns the models mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.mail import signer_of
from bot.settings import Settings, SettingsError, load_settings
from services.messaging.email.links import LinkProblem, LinkRefused, LinkSigner
from services.operations.reseal import Resealer, sealed_columns
from services.outside.vault import Vault, VaultError
from storage.models import Base
from storage.sealing import SEALED, sealed_keys

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
DOMAIN = "shop.example"


def test_secret_key_previous_is_a_comma_list_after_the_signing_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "new-key")
    monkeypatch.setenv("SECRET_KEY_PREVIOUS", " old-key , older-key,,new-key")
    assert load_settings(env_file=None).secret_keys == ["new-key", "old-key", "older-key"]
    monkeypatch.delenv("SECRET_KEY_PREVIOUS")
    assert load_settings(env_file=None).secret_keys == ["new-key"]


def test_links_and_reply_addresses_made_before_a_rotation_keep_working():
    # given a link and a reply address made with the old key
    before = LinkSigner("old-key")
    token = before.action_token(7, 3, "confirm_receipt", NOW)
    address = before.reply_address(7, DOMAIN)
    # when the key is rotated (the new one first, the old one kept)
    rotated = LinkSigner(["new-key", "old-key"])
    # then both still work
    assert rotated.read_action(token, NOW).order_id == 7
    assert rotated.order_of_reply(address, DOMAIN) == 7
    # and what the rotated signer makes is signed with the new key alone
    fresh = rotated.action_token(8, 3, "cancel", NOW)
    assert LinkSigner("new-key").read_action(fresh, NOW).order_id == 8
    with pytest.raises(LinkRefused):
        before.read_action(fresh, NOW)
    assert LinkSigner("new-key").order_of_reply(rotated.reply_address(8, DOMAIN), DOMAIN) == 8


def test_a_key_dropped_from_the_list_no_longer_verifies():
    old = LinkSigner("old-key")
    token = old.action_token(7, 3, "confirm_receipt", NOW)
    dropped = LinkSigner(["new-key"])
    with pytest.raises(LinkRefused) as refused:
        dropped.read_action(token, NOW)
    assert refused.value.problem is LinkProblem.TAMPERED
    assert dropped.order_of_reply(old.reply_address(7, DOMAIN), DOMAIN) is None
    # expiry is still checked with an old key
    with pytest.raises(LinkRefused) as late:
        LinkSigner(["new-key", "old-key"]).read_action(token, NOW + timedelta(days=31))
    assert late.value.problem is LinkProblem.EXPIRED


def test_the_running_bot_signs_with_secret_key_and_accepts_the_previous_ones():
    settings = Settings(
        _env_file=None,
        secret_key="new-key",
        secret_key_previous="old-key",
        mail_reply_local_part="orders",
    )
    signer = signer_of(settings)
    old_address = LinkSigner("old-key", reply_mailbox="orders").reply_address(5, DOMAIN)
    assert signer.order_of_reply(old_address, DOMAIN) == 5
    assert signer.reply_address(5, DOMAIN).startswith("orders+5.")
    # the mailbox of reply addresses is a local part, without "+"
    with pytest.raises(ValueError, match=r"1-40"):
        Settings(_env_file=None, mail_reply_local_part="re+ply")


def test_a_bad_mailbox_name_is_named(monkeypatch):
    monkeypatch.setenv("MAIL_REPLY_LOCAL_PART", "Reply Box")
    with pytest.raises(SettingsError, match="MAIL_REPLY_LOCAL_PART"):
        load_settings(env_file=None)


# -- the vault and `secrets reseal` -------------------------------------------------------------


def test_the_vault_tells_which_values_are_on_the_newest_key():
    old = Vault(["old-key"]).seal("token")
    rotated = Vault(["new-key", "old-key"])
    assert not rotated.is_newest(old)
    assert rotated.is_newest(rotated.reseal(old))
    assert not rotated.is_newest("garbage")


def test_the_models_mark_their_sealed_columns_for_the_command():
    metadata = MetaData()
    Table(
        "credentials",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("api_key", String, info=SEALED),
        Column("settings", JSON, info=sealed_keys("password")),
        Column("note", String),
    )
    found = [(c.name, c.json_keys) for c in sealed_columns(metadata)]
    assert found == [("credentials.api_key", ()), ("credentials.settings", ("password",))]
    # every sealed column the application has is found the same way (none may be unmarked)
    assert all(c.table.name in Base.metadata.tables for c in sealed_columns(Base.metadata))


@pytest.fixture
async def sealed_table(engine: AsyncEngine):
    """A table of the test's own, marked like a feature's model would be."""
    metadata = MetaData()
    table = Table(
        "test_provider_credentials",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("api_key", String(500), info=SEALED),
        Column("settings", JSON, info=sealed_keys("password")),
    )
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield table
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)


async def test_reseal_moves_every_sealed_value_to_the_newest_key(sessions, sealed_table):
    # given credentials sealed under the old key, one already under the new one,
    # one under a key nobody has any more, and JSON with a sealed key beside plain ones
    old, new, lost = Vault(["old-key"]), Vault(["new-key"]), Vault(["lost-key"])
    rows = [
        {"id": 1, "api_key": old.seal("key-1"), "settings": {"password": old.seal("pw-1"), "x": 1}},
        {"id": 2, "api_key": new.seal("key-2"), "settings": {"x": 2}},
        {"id": 3, "api_key": lost.seal("key-3"), "settings": None},
        {"id": 4, "api_key": None, "settings": {"password": old.seal("pw-4")}},
    ]
    async with sessions() as session, session.begin():
        await session.execute(insert(sealed_table), rows)
    rotated = Vault(["new-key", "old-key"])
    resealer = Resealer(sessions, rotated, sealed_columns(sealed_table.metadata), batch=2)

    # when
    report = await resealer.run()

    # then the old ones moved, the current one stayed, the unreadable one is left as it was
    assert (report.moved, report.current, report.unreadable) == (3, 1, 1)
    async with sessions() as session:
        stored = {
            row.id: row
            for row in (await session.execute(select(sealed_table).order_by(sealed_table.c.id)))
        }
    assert new.open(stored[1].api_key) == "key-1"
    assert new.open(stored[1].settings["password"]) == "pw-1" and stored[1].settings["x"] == 1
    assert stored[2].api_key == rows[1]["api_key"]  # untouched
    assert stored[3].api_key == rows[2]["api_key"]  # kept for the operator to recover
    assert new.open(stored[4].settings["password"]) == "pw-4"
    with pytest.raises(VaultError):
        Vault(["old-key"]).open(stored[1].api_key)
    # and a second run has nothing left to move
    again = await resealer.run()
    assert (again.moved, again.current, again.unreadable) == (0, 4, 1)
