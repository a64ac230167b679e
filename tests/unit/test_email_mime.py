"""The hand-written MIME (services.messaging.email.mime, compose) says what the standard
library's EmailMessage said: the same mails composed both ways parse back, with the standard
library's parser, to the same headers, the same texts and the same files; and they travel
through a real SMTP server on loopback unchanged."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.messaging.email.compose import compose
from services.messaging.email.content import Mail
from services.messaging.email.mime import attachment_part, multipart, text_part
from services.messaging.email.render import MailRenderer
from services.messaging.email.smtp import Accepted, SmtpConfig, SmtpSender, Tls
from tests.email_reference import reference_bytes, reference_message
from tests.mail_server import MailServer
from tests.unit.test_email_render import context

FROM = "shop@shopbot.example"
SPECIMENS = {  # texts whose encoding differs: ASCII, Cyrillic, long lines, odd line ends
    "ascii": "Hello\nworld\n",
    "cyrillic": "Здравствуйте, Иван!\nВаш заказ №42 оформлен.\n",
    "mixed": "Total: 1 500,00 ₽ — thank you\n",
    "long ascii line": "x" * 1200 + "\n",
    "long cyrillic line": "щ" * 700 + "\n",
    "no last line break": "one\ntwo",
    "CR and CRLF": "a\r\nb\rc\n",
    "trailing spaces": "a  \nb\t\n",
    "a lone dot": "before\n.\nafter\n",
    "equals and boundary-like": "=?utf-8?b?x?= --=_abc\n=_ =3D\n",
    "empty": "",
}


def mail(**changes) -> Mail:
    values = {
        "to_address": "buyer@example.com",
        "to_name": "Иван Петров",
        "language": "ru",
        "subject": "Заказ №42 в «Чайной лавке»: отправлен",
        "text": "Здравствуйте!\n",
        "html": "<p>Здравствуйте!</p>\n",
        "reply_to": "reply+7.0123456789abcdef01234567@reply.example",
        "message_id": "<outbox-5.0011223344556677@reply.example>",
        "references": ["<order-7@reply.example>"],
        "attachments": [],
        "from_name": "Чайная лавка через ShopBot",
        "date": datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Mail(**values)


def reading(raw: bytes) -> dict:
    """What a mail client takes from the bytes: the headers (the multipart boundary aside),
    and every leaf part's type, parameters, disposition, file name and decoded content."""
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return described(email.message_from_bytes(raw, policy=default))


def described(parsed: EmailMessage) -> dict:
    headers = [
        (name.lower(), str(value))
        for name, value in parsed.items()
        if name.lower() not in ("content-type", "content-transfer-encoding")
    ]
    return {
        "headers": sorted(headers),
        "structure": [part.get_content_type() for part in parsed.walk()],
        "leaves": [
            {
                "type": part.get_content_type(),
                "charset": part.get_param("charset"),
                "disposition": part.get_content_disposition(),
                "file name": part.get_filename(),
                "content": part.get_content(),
            }
            for part in parsed.walk()
            if not part.is_multipart()
        ],
    }


def both(message: Mail, **options) -> tuple[dict, dict]:
    options.setdefault("from_address", FROM)
    new = compose(message, **options).data
    return reading(reference_bytes(message, **options)), reading(new)


@pytest.mark.parametrize("specimen", sorted(SPECIMENS))
def test_texts_read_back_as_the_standard_library_wrote_them(specimen):
    text = SPECIMENS[specimen]
    old, new = both(mail(text=text, html=f"<pre>{text}</pre>"))
    assert new == old


def test_every_topic_in_every_language_reads_back_the_same():
    renderer = MailRenderer()
    for topic in ("order_created", "status_changed", "new_order", "reminder"):
        for language in ("ru", "uk", "en"):
            content = renderer.render(topic, context(), language)
            message = mail(
                subject=content.subject, text=content.text, html=content.html, language=language
            )
            old, new = both(message)
            assert new == old, (topic, language)


FILES = [
    ("счёт-42.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40),
    ("invoice.pdf", "application/pdf", b"%PDF-1.4"),
    ("../../etc/passwd\r\nX-Evil: y", "text/plain", b"root"),
    ('a "quoted" \\ name.txt', "text/plain", b"x"),
    ("data", "message/rfc822", b"From: x"),
    ("Счёт на оплату заказа номер сорок два от двадцать четвёртого ноября " * 3, "", b"z"),
    ("", "image/png", b""),
]


def test_attachments_read_back_the_same():
    old, new = both(mail(attachments=FILES))
    assert new == old
    assert new["structure"][:2] == ["multipart/mixed", "multipart/alternative"]
    assert [leaf["file name"] for leaf in new["leaves"][2:]][:3] == [
        "счёт-42.pdf",
        "invoice.pdf",
        "_.._etc_passwd X-Evil: y",
    ]


def test_a_file_name_cannot_add_a_header_to_its_part():
    raw = compose(mail(attachments=[FILES[2]]), from_address=FROM).data
    parsed = email.message_from_bytes(raw, policy=default)
    [_, _, _, _, file] = list(parsed.walk())
    assert sorted(file.keys()) == [
        "Content-Disposition",
        "Content-Transfer-Encoding",
        "Content-Type",
    ]
    assert file["X-Evil"] is None


PEOPLES_TEXT = st.text(
    alphabet=st.sampled_from([*"Чайнаялвк «»—№ Tea&Co<>@,;:\"'().=?_-\\", "🍵", "\t", "\n", "\r"]),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(
    name=PEOPLES_TEXT,
    subject=PEOPLES_TEXT,
    text=PEOPLES_TEXT,
    html=PEOPLES_TEXT,
    file_name=PEOPLES_TEXT,
    data=st.binary(max_size=300),
)
def test_any_mail_reads_back_the_same(name, subject, text, html, file_name, data):
    message = mail(
        to_name=name,
        subject=subject,
        from_name=f"{name} через ShopBot",
        text=text,
        html=html,
        attachments=[(file_name, "application/pdf", data)],
    )
    old, new = both(message)
    assert new == old


def test_a_boundary_never_stands_in_a_part():
    part = text_part("plain\n", "plain")
    whole = multipart("mixed", [part, attachment_part(b"x", "text/plain", "x.txt")])
    boundary = whole.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    assert whole.count(b"--" + boundary) == 3  # two openings and the close
    assert boundary not in part


async def test_both_travel_through_a_real_smtp_server_the_same():
    server = await MailServer().start()
    try:
        message = mail(attachments=FILES[:3], text=SPECIMENS["long cyrillic line"])
        composed = compose(message, from_address=FROM)
        sender = SmtpSender(SmtpConfig("127.0.0.1", server.port, tls=Tls.NONE))
        assert await sender.send(composed) == Accepted()
        await sender.close()
        # as the sender did before: aiosmtplib's send_message of the EmailMessage
        old_message = reference_message(message, from_address=FROM)
        await aiosmtplib.send(old_message, hostname="127.0.0.1", port=server.port, start_tls=False)
        new, old = server.received
        assert (new.sender, new.recipients) == (old.sender, old.recipients)
        assert (new.sender, new.recipients) == (FROM, ["buyer@example.com"])
        assert described(new.message) == described(old.message)
        assert described(new.message) == reading(composed.data)
    finally:
        await server.stop()
