"""The IMAP door from the settings an operator writes: IMAP_* read and checked (a missing
login is named), and the poller the running bot builds from them reads the mailbox into the
order's dialog."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.container import build_container
from bot.mail import mailbox_poller, signer_of
from bot.settings import SettingsError, load_settings
from storage.models import DialogMessage
from tests.factories import make_order, make_shop
from tests.imap_server import ImapServer, Mailbox
from tests.services.test_email_imap import reply


def test_imap_needs_its_login_and_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("IMAP_HOST", "imap.example.com")
    with pytest.raises(SettingsError, match="IMAP_USER, IMAP_PASSWORD: set both with IMAP_HOST"):
        load_settings(env_file=None)
    monkeypatch.setenv("IMAP_USER", "reply@shop.example")
    monkeypatch.setenv("IMAP_PASSWORD", "secret")
    monkeypatch.setenv("IMAP_TLS", "starttls")
    with pytest.raises(SettingsError, match="IMAP_TLS"):
        load_settings(env_file=None)
    monkeypatch.setenv("IMAP_TLS", "tls")
    monkeypatch.setenv("IMAP_FOLDER", 'Replies" INBOX')
    with pytest.raises(SettingsError, match="IMAP_FOLDER"):
        load_settings(env_file=None)
    monkeypatch.delenv("IMAP_FOLDER")
    settings = load_settings(env_file=None)
    assert (settings.imap_port, settings.imap_folder, settings.imap_poll_seconds) == (
        993,
        "INBOX",
        60.0,
    )


async def test_the_bots_poller_reads_the_mailbox_it_is_configured_for(
    monkeypatch, database_url, engine, clock
):
    mailbox = Mailbox()
    server = await ImapServer(mailbox).start()
    for name, value in {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "imap-test-secret",
        "MAIL_REPLY_DOMAIN": "shop.example",
        "IMAP_HOST": "127.0.0.1",
        "IMAP_PORT": str(server.port),
        "IMAP_USER": mailbox.user,
        "IMAP_PASSWORD": mailbox.password,
        "IMAP_TLS": "none",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env_file=None)
    container = build_container(settings, clock=clock)
    try:
        order = await make_order(container, await make_shop(container))
        address = signer_of(settings).reply_address(order.id, "shop.example")
        mailbox.deliver(reply(address, "Is it shipped?"))

        report = await mailbox_poller(container, settings).poll_once()

        assert report.stored == 1
        async with container.sessions() as session:
            texts = list(await session.scalars(select(DialogMessage.text)))
        assert texts == ["Is it shipped?"]
    finally:
        await container.close()
        await server.stop()
