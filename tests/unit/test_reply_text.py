"""The new text and the files of a buyer's e-mail reply (D3), from mail as real programs send it:
Gmail, Outlook, Apple Mail, Thunderbird, Yandex and Mail.ru; plain, HTML-only and multipart;
base64 and quoted-printable; UTF-8, KOI8-R and Windows-1251."""

from __future__ import annotations

import base64
import quopri
from email import policy
from email.parser import BytesParser

import pytest

from services.messaging.email.reply_text import (
    Attachment,
    attachments,
    html_to_text,
    read_reply,
    reply_text,
    safe_name,
    strip_quotes,
)

ADDRESS = "reply+12.0123456789abcdef01234567@shop.example"


def parse(raw: str | bytes):
    if isinstance(raw, str):
        raw = raw.encode("ascii")
    return BytesParser(policy=policy.default).parsebytes(raw.replace(b"\n", b"\n"))


def b64(data: bytes | str, charset: str = "utf-8") -> str:
    if isinstance(data, str):
        data = data.encode(charset)
    return base64.encodebytes(data).decode("ascii")


def qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def headers(content_type: str, extra: str = "") -> str:
    return (
        "Return-Path: <ivan@example.com>\n"
        "From: Ivan Petrov <ivan@example.com>\n"
        f"To: Cats & Dogs <{ADDRESS}>\n"
        "Subject: Re: Order #12 is ready\n"
        "Date: Mon, 23 Nov 2026 12:00:00 +0300\n"
        "Message-ID: <CAB1234@mail.example.com>\n"
        "In-Reply-To: <order-12@shop.example>\n"
        "MIME-Version: 1.0\n"
        f"{extra}"
        f"Content-Type: {content_type}\n"
    )


# -- Gmail ------------------------------------------------------------------------------------

GMAIL_PLAIN = f"""Thanks, I'll pick it up tomorrow after 6 pm.
Is the parking free?

On Mon, 23 Nov 2026 at 10:00, Cats & Dogs <
{ADDRESS}> wrote:

> Your order #12 is ready for pickup.
>
> Cats & Dogs
"""

GMAIL_HTML = f"""<div dir="ltr">Thanks, I&#39;ll pick it up tomorrow after 6&nbsp;pm.<div>Is the
parking free?</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr"
class="gmail_attr">On Mon, 23 Nov 2026 at 10:00, Cats &amp; Dogs &lt;<a href="mailto:{ADDRESS}">
{ADDRESS}</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px
0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div>Your order #12 is ready for
pickup.</div></blockquote></div>
"""


def gmail() -> str:
    return (
        headers('multipart/alternative; boundary="000000000000a1b2c3"')
        + "\n--000000000000a1b2c3\n"
        + 'Content-Type: text/plain; charset="UTF-8"\n'
        + "Content-Transfer-Encoding: quoted-printable\n\n"
        + qp(GMAIL_PLAIN)
        + "\n--000000000000a1b2c3\n"
        + 'Content-Type: text/html; charset="UTF-8"\n'
        + "Content-Transfer-Encoding: quoted-printable\n\n"
        + qp(GMAIL_HTML)
        + "\n--000000000000a1b2c3--\n"
    )


def test_gmail_reply_with_its_header_broken_over_two_lines():
    assert reply_text(parse(gmail())) == (
        "Thanks, I'll pick it up tomorrow after 6 pm.\nIs the parking free?"
    )


def test_gmail_html_part_gives_the_same_text():
    assert strip_quotes(html_to_text(GMAIL_HTML)) == (
        "Thanks, I'll pick it up tomorrow after 6 pm.\nIs the parking free?"
    )


def test_gmail_in_russian_names_no_verb_only_the_date_and_address():
    body = (
        "Добрый день! Можно оплатить при получении?\n\n"
        f"пн, 23 нояб. 2026 г. в 10:00, Cats & Dogs <{ADDRESS}>:\n\n"
        "> Ваш заказ №12 собран.\n"
    )
    raw = (
        headers('text/plain; charset="UTF-8"', "Content-Transfer-Encoding: base64\n")
        + "\n"
        + b64(body)
    )
    assert reply_text(parse(raw)) == "Добрый день! Можно оплатить при получении?"


def test_gmail_in_ukrainian():
    body = (
        "Дякую, чекаю.\n\n"
        "пн, 23 лист. 2026 р. о 10:00 Cats & Dogs <\n"
        f"{ADDRESS}> пише:\n\n"
        "> Ваше замовлення №12 зібрано.\n"
    )
    raw = headers("text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit\n") + "\n"
    message = parse(raw.encode("ascii") + body.encode("utf-8"))
    assert reply_text(message) == "Дякую, чекаю."


# -- Outlook ----------------------------------------------------------------------------------


def test_outlook_from_sent_block_under_a_rule():
    body = (
        "Hello,\n\nplease send the invoice to our accountant.\n\n"
        "Best regards,\nIvan\n\n"
        "________________________________\n"
        "From: Cats & Dogs <shop@shop.example>\n"
        "Sent: Monday, November 23, 2026 10:00 AM\n"
        "To: Ivan Petrov <ivan@example.com>\n"
        "Subject: Order #12 is ready\n\n"
        "Your order #12 is ready for pickup.\n"
    )
    raw = (
        headers(
            'text/plain; charset="windows-1252"',
            "X-Mailer: Microsoft Outlook 16.0\nContent-Transfer-Encoding: quoted-printable\n",
        )
        + "\n"
        + qp(body, "windows-1252")
    )
    assert reply_text(parse(raw)) == (
        "Hello,\n\nplease send the invoice to our accountant.\n\nBest regards,\nIvan"
    )


def test_outlook_original_message_separator_in_russian_windows_1251():
    body = (
        "Добрый день, а когда будет доставка?\n\n"
        "-----Исходное сообщение-----\n"
        "От: Cats & Dogs [mailto:shop@shop.example]\n"
        "Отправлено: 23 ноября 2026 г. 10:00\n"
        "Кому: Иван Петров\n"
        "Тема: Заказ №12\n\n"
        "Ваш заказ №12 собран.\n"
    )
    raw = (
        headers(
            'text/plain; charset="windows-1251"', "Content-Transfer-Encoding: quoted-printable\n"
        )
        + "\n"
        + qp(body, "windows-1251")
    )
    assert reply_text(parse(raw)) == "Добрый день, а когда будет доставка?"


def test_outlook_html_reply_block():
    html = (
        '<html><head><style>p{margin:0}</style></head><body><div class="WordSection1">'
        "<p class=MsoNormal>Yes, the blue one.<o:p></o:p></p></div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Cats &amp; Dogs<br><b>Sent:</b> '
        "Monday, November 23, 2026 10:00<br><b>Subject:</b> Order #12</div>"
        "<div>Which colour do you want?</div></body></html>"
    )
    raw = (
        headers('text/html; charset="utf-8"', "Content-Transfer-Encoding: quoted-printable\n")
        + "\n"
        + qp(html)
    )
    assert reply_text(parse(raw)) == "Yes, the blue one."


def test_outlook_one_line_header_in_plain_text_from_html():
    text = (
        "Fine, thank you.\n\n"
        "From: Cats & Dogs <shop@shop.example> Sent: Monday, November 23, 2026 10:00 "
        "To: Ivan Subject: Order #12\n"
        "Your order is ready.\n"
    )
    assert strip_quotes(text) == "Fine, thank you."


# -- Apple Mail and Thunderbird ---------------------------------------------------------------


def test_apple_mail_with_mobile_signature():
    body = (
        "Great, see you tomorrow!\n\n"
        "Sent from my iPhone\n\n"
        f"> On 23 Nov 2026, at 10:00, Cats & Dogs <{ADDRESS}> wrote:\n"
        ">\n"
        "> Your order #12 is ready.\n"
    )
    raw = (
        headers(
            "text/plain; charset=utf-8",
            "X-Mailer: iPhone Mail (22B91)\nContent-Transfer-Encoding: quoted-printable\n",
        )
        + "\n"
        + qp(body)
    )
    assert reply_text(parse(raw)) == "Great, see you tomorrow!"


def test_apple_mail_in_russian_written_he_or_she():
    text = (
        "Спасибо!\n\n"
        f"23 нояб. 2026 г., в 10:00, Cats & Dogs <{ADDRESS}> написал(а):\n\n"
        "Ваш заказ собран.\n"
    )
    assert strip_quotes(text) == "Спасибо!"


def test_thunderbird_flowed_text_and_signature():
    body = (
        "I would like to change the delivery address to Moscow, Arbat 10, \n"
        "apartment 5.\n\n"
        "On 23.11.2026 10:00, Cats & Dogs wrote:\n"
        "> Your order #12 is ready.\n\n"
        "-- \n"
        "Ivan Petrov\n"
        "+7 916 123-45-67\n"
    )
    raw = headers("text/plain; charset=UTF-8; format=flowed", "User-Agent: Thunderbird\n")
    raw += "Content-Transfer-Encoding: 7bit\n\n" + body
    assert reply_text(parse(raw)) == (
        "I would like to change the delivery address to Moscow, Arbat 10, apartment 5."
    )


def test_thunderbird_in_ukrainian_and_signature_without_quotes():
    assert strip_quotes("Добре.\n\n23.11.2026 10:00, Cats & Dogs пише:\n> Замовлення.\n") == (
        "Добре."
    )
    assert strip_quotes("Thanks!\n-- \nIvan\n") == "Thanks!"


# -- Yandex and Mail.ru -----------------------------------------------------------------------


def test_yandex_koi8r_base64_with_html_alternative():
    plain = (
        "Здравствуйте!\n\nКурьер может приехать после 18:00?\n\n"
        f'23.11.2026, 10:00, "Cats & Dogs" <{ADDRESS}>:\n'
        "> Ваш заказ 12 передан в доставку.\n"
    )
    html = (
        "<div>Здравствуйте!</div><div>&nbsp;</div><div>Курьер может приехать после 18:00?</div>"
        "<div>&nbsp;</div><div>23.11.2026, 10:00, &#34;Cats &amp; Dogs&#34; &lt;"
        f"{ADDRESS}&gt;:</div><blockquote><div>Ваш заказ 12 передан в доставку.</div>"
        "</blockquote>"
    )
    raw = (
        headers('multipart/alternative; boundary="===yandex==="', "X-Mailer: Yamail\n")
        + "\n--===yandex===\n"
        + "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n"
        + b64(plain, "koi8-r")
        + "\n--===yandex===\n"
        + "Content-Type: text/html; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n"
        + b64(html, "koi8-r")
        + "\n--===yandex===--\n"
    )
    expected = "Здравствуйте!\n\nКурьер может приехать после 18:00?"
    assert reply_text(parse(raw)) == expected
    assert strip_quotes(html_to_text(html)) == expected


def test_mail_ru_windows_1251_with_its_own_header_and_mobile_footer():
    body = (
        "Добрый день.\nЗаказ получил, всё в порядке.\n\n"
        "Отправлено из мобильной Почты Mail.ru\n\n\n"
        f"Понедельник, 23 ноября 2026, 10:00 +03:00 от Cats & Dogs <{ADDRESS}>:\n"
        ">Ваш заказ №12 доставлен.\n"
    )
    raw = (
        headers("text/plain; charset=windows-1251", "Content-Transfer-Encoding: base64\n")
        + "\n"
        + b64(body, "windows-1251")
    )
    assert reply_text(parse(raw)) == "Добрый день.\nЗаказ получил, всё в порядке."


def test_russian_old_style_header_user_wrote():
    text = (
        "Жду курьера.\n\n"
        "23 ноября 2026 г., 10:00 пользователь Cats & Dogs <shop@shop.example> написал:\n\n"
        "Заказ передан.\n"
    )
    assert strip_quotes(text) == "Жду курьера."


# -- HTML only, interleaved answers, nothing new ----------------------------------------------


def test_html_only_reply():
    html = (
        "<!DOCTYPE html><html><head><title>Re</title><style>.x{color:red}</style></head>"
        "<body><p>Hello,&nbsp;&nbsp;shop!</p><p>I need:</p><ul><li>a box</li><li>a card</li>"
        "</ul><p>Thanks &amp; bye<br>Ivan</p>"
        '<blockquote type="cite">Your order is ready.</blockquote></body></html>'
    )
    raw = (
        headers("text/html; charset=utf-8", "Content-Transfer-Encoding: base64\n")
        + "\n"
        + b64(html)
    )
    assert reply_text(parse(raw)) == (
        "Hello, shop!\n\nI need:\n\n- a box\n- a card\n\nThanks & bye\nIvan"
    )


def test_answers_between_quoted_lines_are_kept():
    text = "> Which colour?\nBlue.\n> Which size?\nM, please.\n"
    assert strip_quotes(text) == "Blue.\nM, please."


def test_only_quotes_give_an_empty_text():
    assert strip_quotes("\n\n> Your order is ready.\n>\n") == ""
    assert strip_quotes(f"On Mon, 23 Nov 2026 at 10:00, Shop <{ADDRESS}> wrote:\n> hi\n") == ""
    raw = headers("text/plain; charset=utf-8") + "\n\n"
    assert reply_text(parse(raw)) == ""


def test_ordinary_sentences_are_not_taken_for_headers():
    text = "My friend wrote:\nplease deliver at 10:00.\nNote: the door code is 1234."
    assert strip_quotes(text) == text


def test_whitespace_is_normalised():
    assert strip_quotes("  Hello\t\tthere  \n\n\n\n\u00a0second\u200b line \n\n") == (
        "Hello there\n\nsecond line"
    )


def test_a_part_in_an_unknown_charset_is_read_as_utf8_then_windows_1251():
    raw = headers("text/plain; charset=x-unknown", "Content-Transfer-Encoding: 8bit\n") + "\n"
    message = parse(raw.encode("ascii") + "Привет".encode())
    assert reply_text(message) == "Привет"
    message = parse(raw.encode("ascii") + "Привет".encode("windows-1251"))
    assert reply_text(message) == "Привет"


# -- files ------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))


def with_files() -> str:
    long_name = "x" * 300 + ".pdf"
    return (
        headers('multipart/mixed; boundary="mixed"', "X-Mailer: Apple Mail (2.3826)\n")
        + "\n--mixed\n"
        + 'Content-Type: multipart/related; boundary="related"\n\n'
        + "--related\n"
        + 'Content-Type: multipart/alternative; boundary="alt"\n\n'
        + "--alt\nContent-Type: text/plain; charset=utf-8\n\nHere is the receipt.\n"
        + "\n--alt\nContent-Type: text/html; charset=utf-8\n\n"
        + '<p>Here is the receipt.</p><img src="cid:img1@x">\n'
        + "--alt--\n"
        + "\n--related\n"
        + "Content-Type: image/png\nContent-ID: <img1@x>\nContent-Transfer-Encoding: base64\n\n"
        + b64(PNG)
        + "--related--\n"
        + "\n--mixed\n"
        + 'Content-Type: application/pdf; name="receipt.pdf"\n'
        + 'Content-Disposition: attachment; filename="C:\\\\Users\\\\ivan\\\\receipt.pdf"\n'
        + "Content-Transfer-Encoding: base64\n\n"
        + b64(PDF)
        + "\n--mixed\n"
        + "Content-Type: application/pdf\n"
        + "Content-Disposition: attachment; filename*=utf-8''%D1%87%D0%B5%D0%BA.pdf\n"
        + "Content-Transfer-Encoding: base64\n\n"
        + b64(PDF)
        + "\n--mixed\n"
        + 'Content-Type: text/plain; charset=koi8-r; name="=?koi8-r?B?zsHLzMHEzsHR?=.txt"\n'
        + 'Content-Disposition: attachment; filename="=?koi8-r?B?zsHLzMHEzsHR?=.txt"\n'
        + "Content-Transfer-Encoding: quoted-printable\n\n"
        + qp("накладная 12", "koi8-r")
        + "\n--mixed\n"
        + "Content-Type: application/pdf\n"
        + f'Content-Disposition: attachment; filename="{long_name}"\n'
        + "Content-Transfer-Encoding: base64\n\n"
        + b64(PDF)
        + "\n--mixed\n"
        + "Content-Type: application/pdf\n"
        + 'Content-Disposition: attachment; filename="empty.pdf"\n\n'
        + "\n--mixed\n"
        + 'Content-Type: application/pgp-signature; name="signature.asc"\n\n'
        + "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"
        + "\n--mixed--\n"
    )


def test_attachments_of_a_multipart_message():
    message = parse(with_files())
    reply = read_reply(message)
    assert reply.text == "Here is the receipt."
    names = [a.name for a in reply.attachments]
    assert names == ["attachment-1.png", "receipt.pdf", "чек.pdf", "накладная.txt", names[4]]
    assert len(names[4]) == 255 and names[4].endswith(".pdf")
    assert reply.attachments[0] == Attachment("attachment-1.png", "image/png", PNG)
    assert reply.attachments[1] == Attachment("receipt.pdf", "application/pdf", PDF)
    assert reply.attachments[3].data == "накладная 12".encode("koi8-r")
    assert reply.attachments[3].content_type == "text/plain"


def test_a_forwarded_message_is_one_file():
    raw = (
        headers('multipart/mixed; boundary="m"')
        + "\n--m\nContent-Type: text/plain\n\nSee below.\n"
        + "\n--m\nContent-Type: message/rfc822\n\n"
        + "From: courier@example.com\nSubject: Delivery\n\nI will come at 5.\n"
        + "\n--m--\n"
    )
    [file] = attachments(parse(raw))
    assert (file.name, file.content_type) == ("Delivery.eml", "message/rfc822")
    assert b"I will come at 5." in file.data


def test_a_plain_message_has_no_files():
    assert attachments(parse(gmail())) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ("a\x00b\r\nc.pdf", "a_b__c.pdf"),
        ('what?<>:"|*.txt', "what_______.txt"),
        ("  .hidden. ", "hidden"),
        ("..", "attachment-1.pdf"),
        (None, "attachment-1.pdf"),
        ("", "attachment-1.pdf"),
        ("Фото\u200b 1.JPG", "Фото 1.JPG"),
    ],
)
def test_safe_names(given, expected):
    assert safe_name(given, "application/pdf") == expected


def test_long_names_keep_their_extension():
    name = safe_name("я" * 400 + ".jpeg", "image/jpeg")
    assert len(name) == 255 and name.endswith("я.jpeg")
    assert len(safe_name("z" * 400, "image/jpeg")) == 255
