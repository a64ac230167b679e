"""The e-mails' texts (D1): every topic renders in every language, escaped in HTML and verbatim
in text, with a one-line subject; and the composed message cannot be made to carry headers
that names and subjects from shops and buyers try to smuggle in."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import compat32, default
from email.utils import getaddresses
from pathlib import Path

import pytest
from babel.support import Translations
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2 import UndefinedError

from services.messaging.email.compose import OutgoingMail, clean_text, compose
from services.messaging.email.content import BUYER_TOPICS, TOPICS, Mail
from services.messaging.email.render import LOCALES, MailRenderer
from services.vocabulary import LANGUAGES

SCRIPT = "<script>alert(1)</script>"
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "messaging" / "email" / "templates"
HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # a field name at the start of a line


@pytest.fixture(scope="module")
def renderer() -> MailRenderer:
    return MailRenderer()


def context(**changes) -> dict:
    """A full context, as services.messaging.email.content builds it."""
    values = {
        "audience": "buyer",
        "shop_name": "Tea & Co",
        "order": {
            "number": 42,
            "created": "24.11.2026 10:00",
            "lines": [
                {
                    "name": SCRIPT,
                    "sku": "TEA-1",
                    "quantity": 3,
                    "unit_price": "£10.00",
                    "discount": "£2.00",
                    "amount": "£28.00",
                },
                {
                    "name": "Green tea",
                    "sku": "",
                    "quantity": 1,
                    "unit_price": "£5.00",
                    "discount": "",
                    "amount": "£5.00",
                },
            ],
            "more": 0,
            "items_total": "£33.00",
            "discount": "£3.00",
            "delivery_method": "post",
            "delivery_cost": "£4.00",
            "delivery_address": "1 Tea St, <London>",
            "payment_method": "card",
            "total": "£34.00",
            "comment": "Ring twice",
            "paid": "",
            "due": "",
            "refund_due": "",
        },
        "status": "Shipped",
        "event_status": "Shipped",
        "next_step": "act",
        "track": {"code": "RA123456789RU", "carrier": "Royal Mail"},
        "payment": None,
        "actions": [
            {
                "code": "confirm_receipt",
                "title": "I have received it",
                "url": "https://shop.example/l/abc.def",
                "danger": False,
            }
        ],
        "link_days": 30,
        "telegram_url": "https://t.me/shop_bot?start=t0ken",
        "buyer": {"name": "Ivan", "phone": "+79161234567", "email": "ivan@example.com"},
        "message": None,
        "change": None,
        "from_number": None,
        "reminder": None,
        "reason": None,
        "reply_note": "shop",
    }
    values.update(changes)
    return values


def topic_context(topic: str) -> dict:
    if topic == "new_order":
        return context(
            audience="shop", next_step="open", track=None, actions=[], reply_note="buyer"
        )
    if topic == "order_changed":
        return context(change="set_discount")
    if topic == "order_split":
        return context(from_number=41)
    if topic == "reminder":
        return context(
            reminder="payment_reminder",
            next_step="pay",
            track=None,
            payment={"total": "£34.00", "instructions": "Card 4276 <Sberbank>\nName: Tea & Co"},
        )
    if topic == "dialog_to_buyer":
        return context(
            message={
                "text": "Hello!\nYour <b>tea</b> ships tomorrow.",
                "files": [
                    {"name": "invoice.pdf", "kind": "document"},
                    {"name": "", "kind": "photo"},
                ],
            }
        )
    return context()


# -- templates -------------------------------------------------------------------------------


def test_every_topic_has_its_pair_of_templates():
    names = {path.name for path in TEMPLATES.iterdir()}
    for topic in TOPICS:
        assert {f"{topic}.txt", f"{topic}.html"} <= names
    assert TOPICS == BUYER_TOPICS | {"new_order"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_renders_in_every_language(renderer, topic, language):
    mail = renderer.render(topic, topic_context(topic), language)
    assert mail.subject and mail.subject == mail.subject.strip()
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert "42" in mail.subject or "41" in mail.subject
    assert mail.text.strip() and mail.html.strip()
    assert "{{" not in mail.text + mail.html and "{%" not in mail.text + mail.html
    assert "%(" not in mail.text + mail.html  # every placeholder filled
    assert "£34.00" in mail.text and "£34.00" in mail.html  # the total
    assert "Tea &amp; Co" in mail.html and "Tea & Co" in mail.text  # the shop's name
    html = mail.html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert f'<html lang="{language}">' in html
    assert html.count("<table") == html.count("</table>")
    assert html.count("<tr") == html.count("</tr>")
    # the goods, quantities and line totals in both parts
    for part in (mail.text, mail.html):
        assert "3 × £10.00" in part and "£28.00" in part and "Green tea" in part


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_user_text_is_escaped_in_html_and_verbatim_in_text(renderer, topic):
    mail = renderer.render(topic, topic_context(topic), "en")
    assert SCRIPT not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert SCRIPT in mail.text
    assert "1 Tea St, &lt;London&gt;" in mail.html and "1 Tea St, <London>" in mail.text


def test_values_inside_translated_sentences_are_escaped_too(renderer):
    evil = 'Evil <img src=x onerror="alert(1)">'
    mail = renderer.render("order_created", context(shop_name=evil), "en")
    assert "<img" not in mail.html
    assert "Evil &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in mail.html
    assert f"Thank you for your order! {evil} has received it" in mail.text
    assert mail.subject == f"Your order #42 at {evil} is placed"


def test_the_subject_is_one_line_whatever_the_names(renderer):
    mail = renderer.render(
        "order_created", context(shop_name="Evil\r\nBcc: victim@example.com\u2028x"), "en"
    )
    assert mail.subject == "Your order #42 at Evil Bcc: victim@example.com x is placed"


@pytest.mark.parametrize(
    ("topic", "changes", "expected"),
    [
        ("status_changed", {}, "Order #42: Shipped"),
        ("order_created", {}, "Your order #42 at Tea & Co is placed"),
        ("new_order", {"audience": "shop"}, "New order #42 · £34.00"),
        ("order_changed", {}, "Your order #42 at Tea & Co was changed"),
        ("order_split", {"from_number": 41}, "Part of your order #41 is now order #42"),
        (
            "reminder",
            {"reminder": "payment_reminder"},
            "Order #42 is waiting for your payment",
        ),
        ("reminder", {"reminder": "other"}, "A reminder about your order #42"),
        ("dialog_to_buyer", {}, "New message from Tea & Co about order #42"),
    ],
)
def test_subjects(renderer, topic, changes, expected):
    mail = renderer.render(topic, context(**changes), "en")
    assert mail.subject == expected
    assert f"<title>{expected.replace('&', '&amp;')}</title>" in mail.html


def test_a_buyer_mail_shows_links_track_code_and_how_to_reply(renderer):
    mail = renderer.render("status_changed", context(), "en")
    for part in (mail.text, mail.html):
        assert "https://shop.example/l/abc.def" in part
        assert "I have received it" in part
        assert "https://t.me/shop_bot?start=t0ken" in part
        assert "RA123456789RU" in part and "Royal Mail" in part
        assert "Reply to this e-mail to write to" in part
    assert '<a href="https://shop.example/l/abc.def"' in mail.html


def test_payment_instructions_are_the_shops_own_words(renderer):
    ctx = topic_context("reminder")
    mail = renderer.render("reminder", ctx, "en")
    assert "Card 4276 <Sberbank>\nName: Tea & Co" in mail.text
    assert "Card 4276 &lt;Sberbank&gt;<br>Name: Tea &amp; Co" in mail.html
    without = renderer.render(
        "reminder", {**ctx, "payment": {"total": "£34.00", "instructions": ""}}, "en"
    )
    assert "The shop will send you the payment details" in without.text


def test_the_shops_mail_names_the_buyer_and_how_to_reply(renderer):
    mail = renderer.render("new_order", topic_context("new_order"), "en")
    for part in (mail.text, mail.html):
        assert "Ivan" in part and "+79161234567" in part and "ivan@example.com" in part
        assert "Reply to this e-mail to write to the buyer (ivan@example.com)." in part
        assert "https://shop.example/l/" not in part  # no buyer links for the shop
    assert 'href="tel:+79161234567"' in mail.html
    assert 'href="mailto:ivan@example.com"' in mail.html


def test_the_dialog_message_is_quoted_and_its_files_named(renderer):
    mail = renderer.render("dialog_to_buyer", topic_context("dialog_to_buyer"), "en")
    assert "> Hello!\n> Your <b>tea</b> ships tomorrow." in mail.text
    assert "  - invoice.pdf\n  - photo" in mail.text
    assert "Hello!<br>Your &lt;b&gt;tea&lt;/b&gt; ships tomorrow." in mail.html
    assert "invoice.pdf" in mail.html


def test_cancellations_come_last_as_a_quiet_link(renderer):
    """Issue 22: a buyer's first mail leads with following the order, not a red "Cancel"."""
    cancel = {"code": "cancel", "title": "Cancel", "url": "https://s.example/l/x", "danger": True}
    pay = {"code": "pay", "title": "Pay", "url": "https://s.example/l/y", "danger": False}
    mail = renderer.render("order_created", context(actions=[cancel, pay]), "en")
    assert 'bgcolor="#d92d20"' not in mail.html
    assert (
        '<a href="https://s.example/l/x" target="_blank" rel="noopener" style="color:#667085;">'
        in (mail.html)
    )
    for part in (mail.text, mail.html):
        assert part.index("https://s.example/l/y") < part.index("https://s.example/l/x")


def test_the_catalogs_translate_what_they_already_know(renderer):
    # The payment method "card" is translated for the bot already: the mail uses the same text.
    for language in LANGUAGES:
        card = Translations.load(str(LOCALES), [language], domain="messages").gettext("card")
        mail = renderer.render("order_created", context(), language)
        assert f"{card}" in mail.text
    russian = Translations.load(str(LOCALES), ["ru"], domain="messages").gettext("card")
    assert russian != "card", "the Russian catalog is compiled and has the bot's texts"


def test_an_unknown_language_is_russian(renderer):
    mail = renderer.render("order_created", context(), "de")
    assert '<html lang="ru">' in mail.html
    assert renderer.render("order_created", context(), "ru") == mail


def test_a_missing_variable_is_an_error_not_an_empty_text(renderer):
    values = context()
    del values["status"]
    with pytest.raises(UndefinedError):
        renderer.render("status_changed", values, "en")


def test_the_sender_name_is_one_line_in_the_readers_language(renderer):
    assert renderer.sender_name("Tea & Co", "en") == "Tea & Co via ShopBot"
    assert renderer.sender_name("Evil\r\nBcc: x@example.com", "ru").startswith("Evil Bcc: ")


# -- composing -------------------------------------------------------------------------------


def mail(**changes) -> Mail:
    values = {
        "to_address": "buyer@example.com",
        "to_name": "Ivan Petrov",
        "language": "en",
        "subject": "Your order #42 at Tea & Co is placed",
        "text": "Plain text\n",
        "html": "<!DOCTYPE html><html><body><p>HTML</p></body></html>\n",
        "reply_to": "reply+7.0123456789abcdef01234567@reply.example",
        "message_id": "<outbox-5.0011223344556677@reply.example>",
        "references": ["<order-7@reply.example>"],
        "attachments": [],
        "from_name": "Tea & Co via ShopBot",
        "date": datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Mail(**values)


def round_trip(message: OutgoingMail) -> tuple[bytes, EmailMessage]:
    raw = message.data
    return raw, email.message_from_bytes(raw, policy=default)


def addresses(raw: bytes, header: str) -> list[tuple[str, str]]:
    """(display name, address) as mail clients read them: RFC 2047 says the space between two
    encoded words is not text. (policy.default's parser adds one there, CPython #128110.)"""
    values = email.message_from_bytes(raw, policy=compat32).get_all(header) or []
    return [(str(make_header(decode_header(n))), a) for n, a in getaddresses(values)]


def header_lines(raw: bytes) -> list[bytes]:
    """The header section's field lines (continuation lines folded away)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if not line[:1].isspace()]


def test_compose_builds_the_message(renderer):
    content = renderer.render("status_changed", context(), "en")
    message = compose(
        mail(subject=content.subject, text=content.text, html=content.html),
        from_address="shop@shopbot.example",
    )
    raw, parsed = round_trip(message)
    assert parsed["From"].addresses == (
        Address("Tea & Co via ShopBot", addr_spec="shop@shopbot.example"),
    )
    assert parsed["To"].addresses == (Address("Ivan Petrov", addr_spec="buyer@example.com"),)
    assert str(parsed["Reply-To"]) == "reply+7.0123456789abcdef01234567@reply.example"
    assert parsed["Subject"] == "Order #42: Shipped"
    assert parsed["Message-ID"] == "<outbox-5.0011223344556677@reply.example>"
    assert parsed["References"] == "<order-7@reply.example>"
    assert parsed["In-Reply-To"] == "<order-7@reply.example>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "en"
    assert parsed["Date"].datetime == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().replace("\r\n", "\n") == content.text
    assert html.get_content().replace("\r\n", "\n") == content.html
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii()


def test_a_given_from_name_wins():
    _, parsed = round_trip(compose(mail(), from_address="a@b.example", from_name="Other"))
    assert parsed["From"].addresses[0].display_name == "Other"


INJECTIONS = [
    "Evil\r\nBcc: victim@example.com",
    "Evil\nBcc: victim@example.com",
    "Evil\rBcc: victim@example.com",
    "Evil\r\n\r\nBody: injected",
    "Evil\x00\x0b\x0c\x1b\x85Bcc: victim@example.com",
    "Evil\u2028Bcc: victim@example.com",
    'Evil", victim@example.com, "x',
    "Evil <victim@example.com>, other@example.com",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_no_header_can_be_injected(evil):
    message = compose(
        mail(to_name=evil, subject=f"Order #42 {evil}", from_name=f"{evil} via ShopBot"),
        from_address="shop@shopbot.example",
    )
    raw, parsed = round_trip(message)
    names = [line.split(b":", 1)[0].lower() for line in header_lines(raw)]
    assert all(HEADER_LINE.match(line) for line in header_lines(raw))
    assert sorted(names) == sorted(
        [
            b"from",
            b"to",
            b"reply-to",
            b"subject",
            b"date",
            b"message-id",
            b"references",
            b"in-reply-to",
            b"auto-submitted",
            b"x-auto-response-suppress",
            b"mime-version",
            b"content-type",
            b"content-language",
        ]
    )
    assert parsed["Bcc"] is None and parsed["Cc"] is None and parsed["Body"] is None
    assert parsed["To"].addresses[0].addr_spec == "buyer@example.com"
    assert len(parsed["To"].addresses) == 1
    assert len(parsed["From"].addresses) == 1
    assert parsed["From"].addresses[0].addr_spec == "shop@shopbot.example"
    for header in ("Subject", "From", "To"):
        assert "\n" not in str(parsed[header]) and "\r" not in str(parsed[header])
    assert parsed.get_content_type() == "multipart/alternative"


def test_a_subject_with_control_characters_is_one_clean_line():
    message = compose(mail(subject="Hi\tthere\r\n\x07Bcc: x@example.com"), from_address="a@b.cd")
    _, parsed = round_trip(message)
    assert parsed["Subject"] == "Hi there Bcc: x@example.com"


def test_cyrillic_names_and_subject_survive_the_round_trip():
    message = compose(
        mail(
            to_name="Иван Петров",
            subject="Ваш заказ №42 в «Чайной лавке» оформлен — спасибо, что выбрали нас!",
            from_name="Чайная лавка via ShopBot",
            language="ru",
            text="Здравствуйте!\n",
            html="<p>Здравствуйте!</p>\n",
        ),
        from_address="shop@shopbot.example",
    )
    raw, parsed = round_trip(message)
    assert raw.isascii()
    assert b"=?utf-8?" in raw  # RFC 2047 encoded words
    assert parsed["To"].addresses[0].display_name == "Иван Петров"
    assert parsed["From"].addresses[0].display_name == "Чайная лавка via ShopBot"
    assert (
        parsed["Subject"] == "Ваш заказ №42 в «Чайной лавке» оформлен — спасибо, что выбрали нас!"
    )
    assert parsed["Content-Language"] == "ru"
    # bodies travel in the canonical CRLF form
    assert parsed.get_body(("plain",)).get_content() == "Здравствуйте!\r\n"
    assert parsed.get_body(("html",)).get_content() == "<p>Здравствуйте!</p>\r\n"


def test_long_names_with_specials_are_encoded_whole():
    shop = 'Чайная «Лавка у дома», Bcc: victim@example.com; <b>ООО</b> "Самовар"'
    message = compose(
        mail(to_name=shop, from_name=f"{shop} via ShopBot"), from_address="shop@shopbot.example"
    )
    raw, parsed = round_trip(message)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))
    assert addresses(raw, "From") == [(f"{shop} via ShopBot", "shop@shopbot.example")]
    assert addresses(raw, "To") == [(shop, "buyer@example.com")]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["buyer@example.com"]


def decoded_subject(raw: bytes) -> str:
    value = email.message_from_bytes(raw, policy=compat32)["Subject"]
    # Unfolded as RFC 5322 2.2.3 says (compat32 keeps the folding's CRLF).
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value)
    return str(make_header(decode_header(unfolded)))


# Names and subjects as shops and buyers write them: Cyrillic, Latin, specials, emoji, spaces;
# as characters, and as words (long texts of words are where folding goes wrong).
CHARACTERS = st.text(
    alphabet=st.sampled_from(
        [
            *"Чайнаялвкуом«»—№ёЁЇїєґ ",
            *"Tea&Co <>@,;:\"'().=?_-",
            *["🍵", "👍", "🏽", "é", "\t", "\n", "\u202e"],
        ]
    ),
    min_size=1,
    max_size=120,
)
WORDS = st.lists(
    st.sampled_from(
        [
            *["Чайная", "«Лавка", "у", "дома»,", "Bcc:", "victim@example.com;", "<b>ООО</b>"],
            *['"Самовар"', "и", "ко", "tea", "shop", "№1", "—", "лучший", "чай", "Їжак", "🍵"],
        ]
    ),
    min_size=1,
    max_size=25,
).map(" ".join)
PEOPLES_TEXT = st.one_of(CHARACTERS, WORDS)
# The standard library's folder loses the space before "Чайная" in this one.
FOLDED_BADLY = (
    'дома», tea Чайная Чайная Чайная Чайная №1 <b>ООО</b> — Чайная "Самовар" лучший чай '
    '"Самовар" shop "Самовар" "Самовар" лучший ко Чайная —'
)


def test_a_long_cyrillic_subject_keeps_every_space():
    raw, parsed = round_trip(compose(mail(subject=FOLDED_BADLY), from_address="a@b.cd"))
    assert decoded_subject(raw) == FOLDED_BADLY
    assert parsed["Subject"] == FOLDED_BADLY


@settings(max_examples=300, deadline=None)
@given(name=PEOPLES_TEXT, subject=PEOPLES_TEXT)
# A quoted display name folded across lines was misread as the address list it mimics.
@example(name="victim@example.com; victim@example.com; victim@example.com;", subject=":")
# A plain subject long enough to be folded reads back unfolded.
@example(name=":", subject="victim@example.com; " * 4)
def test_any_name_and_subject_reads_back_as_written(name, subject):
    message = compose(
        mail(to_name=name, subject=subject, from_name=f"{name} via ShopBot"),
        from_address="shop@shopbot.example",
    )
    raw, parsed = round_trip(message)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), head
    expected_name = clean_text(name, 100)
    assert addresses(raw, "To") == [(expected_name, "buyer@example.com")]
    assert addresses(raw, "From")[0][1] == "shop@shopbot.example"
    assert decoded_subject(raw) == (clean_text(subject, 200) or "ShopBot")
    assert parsed["Subject"] == (clean_text(subject, 200) or "ShopBot")
    assert [a.addr_spec for a in parsed["To"].addresses] == ["buyer@example.com"]
    assert parsed["Bcc"] is None and parsed["Cc"] is None


def test_attachments_make_the_message_mixed():
    message = compose(
        mail(
            attachments=[
                ("счёт.pdf", "application/pdf", b"%PDF-1.4"),
                ("../../etc/passwd\r\nX: y", "text/plain", b"root"),
                ("data", "message/rfc822", b"From: x"),
            ]
        ),
        from_address="a@b.cd",
    )
    _, parsed = round_trip(message)
    assert parsed.get_content_type() == "multipart/mixed"
    body, *files = parsed.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [
        ("счёт.pdf", "application/pdf"),
        ("_.._etc_passwd X: y", "text/plain"),
        ("data", "application/octet-stream"),
    ]
    assert files[0].get_content() == b"%PDF-1.4"
    assert parsed["Content-Language"] == "en"  # the message's, not moved into a part


def test_each_mail_reads_back_its_own_name_and_subject():
    for n in range(50):
        message = compose(mail(to_name=f"Иван {n}", subject=f"Заказ {n}"), from_address="a@b.cd")
        raw, parsed = round_trip(message)
        assert parsed["To"].addresses[0].display_name == f"Иван {n}"
        assert decoded_subject(raw) == f"Заказ {n}"
        assert (message.sender, message.recipient) == ("a@b.cd", "buyer@example.com")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_address", "victim@example.com\r\nBcc: other@example.com"),
        ("to_address", "not an address"),
        ("to_address", "a@b@example.com"),
        ("to_address", ""),
        ("to_address", "Ivan <ivan@example.com>"),
        ("to_address", "ivan@"),
        ("to_address", "иван@example.com"),
        ("reply_to", "reply@exa mple.com"),
        ("message_id", "<x@y>\r\nBcc: a@b.c"),
        ("message_id", "no-angle-brackets@example.com"),
    ],
)
def test_a_bad_address_raises_a_clear_error(field, value):
    header = {"to_address": "To", "reply_to": "Reply-To", "message_id": "Message-ID"}[field]
    with pytest.raises(ValueError, match=rf"^{header}: .* is not an? "):
        compose(mail(**{field: value}), from_address="shop@shopbot.example")


def test_a_bad_from_address_names_the_header():
    with pytest.raises(ValueError, match=r"^From: 'shopbot' is not an e-mail address"):
        compose(mail(), from_address="shopbot")


def test_an_internationalised_domain_goes_as_idna():
    _, parsed = round_trip(compose(mail(to_address="ivan@пример.рф"), from_address="a@b.cd"))
    assert parsed["To"].addresses[0].addr_spec == "ivan@xn--e1afmkfd.xn--p1ai"
