"""What each e-mail outbox row says (D1, D2), read from the real database: to whom, in which
language, with which goods, status, track code, links and reply address."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email.header import decode_header, make_header
from email.policy import compat32, default
from email.utils import getaddresses

import pytest
from sqlalchemy import select, update

from services.messaging.dialog import DialogService
from services.messaging.email.compose import compose
from services.messaging.email.content import Mail, MailContentReader
from services.messaging.email.formatting import money
from services.messaging.email.links import DOWNLOAD_INVOICE, LinkSigner
from services.messaging.notifications.recipients import UnknownTopic
from services.orders.actors import ActorRef
from storage.models import Buyer, DialogMessage, DialogRelay, Order, OutboxMessage, Shop, Timer
from tests.factories import item, make_order, make_shop

PUBLIC_URL = "https://shop.example"
DOMAIN = "reply.example"
BOT = "shop_bot"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/l/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-=]+)")
GROUP = -100_500
INSTRUCTIONS = "Card 4276 0000 1111 2222, <Sberbank>"


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner("a secret for the tests")


@pytest.fixture
def reader(services, signer) -> MailContentReader:
    return MailContentReader(
        services.sessions,
        services.workflows,
        signer,
        public_url=PUBLIC_URL + "/",
        reply_domain=DOMAIN,
        bot_username=BOT,
    )


async def email_rows(services, topic: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.channel == "email")
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    async with services.sessions() as session:
        return list(await session.scalars(query.order_by(OutboxMessage.id)))


async def set_buyer(services, order, **values) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(update(Buyer).where(Buyer.id == order.buyer_id).values(**values))


async def set_shop(services, shop_id: int, **values) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(update(Shop).where(Shop.id == shop_id).values(**values))


async def act(services, shop, order, user, action, **inputs):
    return await services.orders.apply(order.id, shop.as_user(user), action, inputs)


async def last_status_mail(services, reader, status: str) -> Mail:
    rows = [
        r for r in await email_rows(services, "status_changed") if r.payload["status"] == status
    ]
    assert len(rows) == 1, f"one e-mail about {status}"
    mail = await reader.read(rows[0], services.clock.now())
    assert mail is not None
    return mail


def addresses(raw: bytes, header: str) -> list[tuple[str, str]]:
    """(display name, address) as mail clients read them: RFC 2047 says the space between two
    encoded words is not text. (policy.default's parser adds one there, CPython #128110.)"""
    values = email.message_from_bytes(raw, policy=compat32).get_all(header) or []
    return [(str(make_header(decode_header(n))), a) for n, a in getaddresses(values)]


def links(mail: Mail, signer: LinkSigner, now) -> dict[str, tuple[int, int]]:
    """action -> (order id, buyer id) of each one-click link, as the link pages will read it;
    the text and the HTML part carry the same links."""
    in_text = LINK.findall(mail.text)
    assert sorted(in_text) == sorted(LINK.findall(mail.html))
    claims = [signer.read_action(token, now) for token in in_text]
    # Every buyer's mail has its invoice link (test_the_first_mail_leads_with_following_it).
    return {c.action: (c.order_id, c.buyer_id) for c in claims if c.action != DOWNLOAD_INVOICE}


# -- the shop ------------------------------------------------------------------------------


async def test_the_shop_learns_of_a_new_order_with_the_goods_and_the_buyer(
    services, reader, signer
):
    shop = await make_shop(services)
    order = await make_order(
        services,
        shop,
        item("TEA-1", 2, 12_345),
        item("CUP-9", 1, 50_000, discount=5_000),
        delivery_cost=30_000,
    )
    [row] = await email_rows(services, "new_order")
    assert row.audience == "shop"

    mail = await reader.read(row, services.clock.now())

    assert (mail.to_address, mail.to_name, mail.language) == (
        "shop@example.com",
        "Shop marketplace",
        "ru",
    )
    assert mail.reply_to == "buyer@example.com"  # answering writes to the buyer
    assert f"#{order.number}" in mail.subject
    total = money(order.total, "RUB", "ru")
    assert total == money(2 * 12_345 + 45_000 + 30_000, "RUB", "ru")
    assert total in mail.subject
    for part in (mail.text, mail.html):
        assert "Item TEA-1" in part and "Item CUP-9" in part
        assert f"2 × {money(12_345, 'RUB', 'ru')}" in part
        assert money(24_690, "RUB", "ru") in part  # the line's total
        assert money(5_000, "RUB", "ru") in part  # the line's discount
        assert money(30_000, "RUB", "ru") in part  # delivery
        assert total in part
        assert "Ivan Petrov" in part and "+7 916 123-45-67" in part and "buyer@example.com" in part
        assert "Moscow, Tverskaya 1" in part
    assert LINK.findall(mail.text) == []  # the buyer's links are not for the shop
    assert "https://t.me/shop_bot" in mail.text and "?start=" not in mail.text
    assert mail.message_id.startswith(f"<outbox-{row.id}.") and mail.message_id.endswith(
        f"@{DOMAIN}>"
    )
    assert mail.references == [f"<order-{order.id}@{DOMAIN}>"]
    assert mail.from_name == "Shop marketplace через ShopBot"  # the shop's language: Russian


async def test_a_shop_without_email_gets_no_mail(services, reader):
    shop = await make_shop(services)
    await make_order(services, shop)
    [row] = await email_rows(services, "new_order")
    await set_shop(services, shop.id, email=None)
    assert await reader.read(row, services.clock.now()) is None


async def test_the_shops_language_is_the_shops(services, reader):
    shop = await make_shop(services)
    await set_shop(services, shop.id, language="en")
    order = await make_order(services, shop)
    [row] = await email_rows(services, "new_order")
    mail = await reader.read(row, services.clock.now())
    assert mail.language == "en"
    assert money(order.total, "RUB", "en") in mail.text
    assert "card" in mail.text  # the payment method, in English


# -- the buyer -----------------------------------------------------------------------------


async def test_the_buyer_is_told_the_order_is_placed(services, reader, signer):
    shop = await make_shop(services)
    order = await make_order(services, shop, item("TEA-1", 3, 10_000))
    [row] = await email_rows(services, "order_created")
    now = services.clock.now()

    mail = await reader.read(row, now)

    assert (mail.to_address, mail.to_name, mail.language) == (
        "buyer@example.com",
        "Ivan Petrov",
        "ru",
    )
    assert signer.order_of_reply(mail.reply_to, DOMAIN) == order.id
    assert (
        "Ответьте на это письмо, чтобы написать магазину «Shop marketplace» об этом заказе."
        in mail.text
    )
    assert "Ожидает подтверждения" in mail.text  # the status, from the workflow, in Russian
    # the buyer may cancel while it awaits confirmation (the marketplace preset)
    assert links(mail, signer, now) == {"cancel": (order.id, order.buyer_id)}
    assert "Отменить заказ" in mail.text  # the action's title in the buyer's language
    assert f"https://t.me/{BOT}?start={order.buyer_token}" in mail.text
    assert mail.references == [f"<order-{order.id}@{DOMAIN}>"]


async def test_the_first_mail_leads_with_following_it_and_has_the_invoice(services, reader, signer):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await set_buyer(services, order, language="en")
    [row] = await email_rows(services, "order_created")
    now = services.clock.now()

    mail = await reader.read(row, now)

    # following the order comes first, the cancellation last and not as a red button
    for part in (mail.text, mail.html):
        follow = part.index("Follow your order in Telegram")
        assert follow < part.index("Download the invoice") < part.index("Cancel the order")
    assert "#d92d20" not in mail.html
    # the invoice link is this buyer's, for this order
    claims = [signer.read_action(token, now) for token in LINK.findall(mail.text)]
    invoice = [c for c in claims if c.action == DOWNLOAD_INVOICE]
    assert [(c.order_id, c.buyer_id) for c in invoice] == [(order.id, order.buyer_id)]


async def test_a_status_mail_in_the_buyers_language_with_how_to_pay_and_links(
    services, reader, signer
):
    shop = await make_shop(services, payment_instructions=INSTRUCTIONS)
    order = await make_order(services, shop)
    await set_buyer(services, order, language="en")
    await act(services, shop, order, shop.manager, "confirm")
    now = services.clock.now()

    mail = await last_status_mail(services, reader, "awaiting_payment")

    assert mail.language == "en"
    assert mail.subject == f"Order #{order.number}: Awaiting payment"
    assert "Status: Awaiting payment" in mail.text
    assert INSTRUCTIONS in mail.text
    assert "Card 4276 0000 1111 2222, &lt;Sberbank&gt;" in mail.html
    assert money(order.total, "RUB", "en") in mail.text
    assert links(mail, signer, now) == {"cancel": (order.id, order.buyer_id)}
    assert "Cancel the order" in mail.text
    assert signer.order_of_reply(mail.reply_to, DOMAIN) == order.id


async def test_a_shop_with_yookassa_gives_the_buyer_a_pay_by_card_link(services, reader, signer):
    # issue 17: the link is the bot's own, signed for this order's buyer
    shop = await make_shop(
        services,
        payment_instructions={"en": "Or by bank transfer."},
        yookassa_shop_id="506751",
        yookassa_secret_key="sealed",
    )
    order = await make_order(services, shop)
    await set_buyer(services, order, language="en")
    await act(services, shop, order, shop.manager, "confirm")

    mail = await last_status_mail(services, reader, "awaiting_payment")

    [token] = re.findall(rf"{re.escape(PUBLIC_URL)}/payments/pay/([A-Za-z0-9_.=-]+)", mail.text)
    assert f"/payments/pay/{token}" in mail.html and "Pay by card" in mail.html
    claim = signer.read_action(token, services.clock.now())
    assert (claim.order_id, claim.buyer_id, claim.action) == (
        order.id,
        order.buyer_id,
        "pay_by_card",
    )
    assert "Or by bank transfer." in mail.text


async def test_without_instructions_the_buyer_is_told_how_to_get_them(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await set_buyer(services, order, language="en")
    await act(services, shop, order, shop.manager, "confirm")
    mail = await last_status_mail(services, reader, "awaiting_payment")
    assert "The shop will send you the payment details." in mail.text


async def test_after_shipping_the_mail_has_the_track_code_and_receipt_link(
    services, reader, signer
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await set_buyer(services, order, language="uk")
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.accountant, "mark_paid")
    preparing = await last_status_mail(services, reader, "preparing_shipment")
    assert "Трек-номер" not in preparing.text  # nothing to track yet
    assert links(preparing, signer, services.clock.now()) == {}  # the buyer waits
    assert "Магазин працює над вашим замовленням." in preparing.text

    await act(
        services, shop, order, shop.packer, "ship", carrier="Нова пошта", track_code="RA12345678"
    )
    now = services.clock.now()
    mail = await last_status_mail(services, reader, "shipped")

    assert mail.language == "uk"
    assert "Відправлено" in mail.subject  # the status title in Ukrainian
    for part in (mail.text, mail.html):
        assert "RA12345678" in part and "Нова пошта" in part
    # the buyer may now confirm receipt; cancelling is over
    assert links(mail, signer, now) == {"confirm_receipt": (order.id, order.buyer_id)}
    assert "Отримано" in mail.text  # the action's title in Ukrainian


async def test_a_mail_built_later_shows_the_order_as_it_is_then(services, reader, signer):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await act(services, shop, order, shop.manager, "confirm")
    # the buyer cancels before the "awaiting payment" mail goes out
    await services.orders.apply(
        order.id, ActorRef.buyer(order.buyer_id), "cancel", {"reason": "changed_mind"}
    )
    mail = await last_status_mail(services, reader, "awaiting_payment")
    assert links(mail, signer, services.clock.now()) == {}  # nothing left to do
    assert "Отменён" in mail.text  # the status now


async def test_the_buyers_language_falls_back_to_the_shops(services, reader):
    shop = await make_shop(services)
    await set_shop(services, shop.id, language="en")
    order = await make_order(services, shop)
    await set_buyer(services, order, language=None)
    [row] = await email_rows(services, "order_created")
    mail = await reader.read(row, services.clock.now())
    assert mail.language == "en"
    assert "Awaiting confirmation" in mail.text


async def test_a_buyer_without_email_gets_no_mail(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    [row] = await email_rows(services, "order_created")
    await set_buyer(services, order, email=None)
    assert await reader.read(row, services.clock.now()) is None


async def test_an_order_that_is_gone_gets_no_mail(services, reader):
    row = OutboxMessage(
        id=999,
        dedupe_key="gone",
        channel="email",
        audience="buyer",
        topic="order_created",
        order_id=123_456,
        payload={},
    )
    assert await reader.read(row, services.clock.now()) is None


async def test_a_topic_without_an_email_is_refused(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    row = OutboxMessage(
        id=1000,
        dedupe_key="x",
        channel="email",
        audience="staff",
        topic="sla_expired",
        order_id=order.id,
        payload={},
    )
    with pytest.raises(UnknownTopic):
        await reader.read(row, services.clock.now())


async def test_the_message_id_is_the_rows_each_time(services, reader):
    shop = await make_shop(services)
    await make_order(services, shop)
    [row] = await email_rows(services, "order_created")
    first = await reader.read(row, services.clock.now())
    again = await reader.read(row, services.clock.now() + timedelta(minutes=5))
    assert first.message_id == again.message_id
    other = (await email_rows(services, "new_order"))[0]
    assert (await reader.read(other, services.clock.now())).message_id != first.message_id


async def test_without_a_bot_there_is_no_telegram_link(services, signer):
    reader = MailContentReader(
        services.sessions,
        services.workflows,
        signer,
        public_url=PUBLIC_URL,
        reply_domain=DOMAIN,
        bot_username=None,
    )
    shop = await make_shop(services)
    await make_order(services, shop)
    for row in await email_rows(services):
        mail = await reader.read(row, services.clock.now())
        assert "t.me/" not in mail.text and "t.me/" not in mail.html


def test_bad_settings_are_refused_at_once(services, signer):
    def make(**changes):
        options = {"public_url": PUBLIC_URL, "reply_domain": DOMAIN, "bot_username": BOT}
        return MailContentReader(
            services.sessions, services.workflows, signer, **{**options, **changes}
        )

    with pytest.raises(ValueError, match="reply"):
        make(reply_domain="reply.example>\r\nBcc: x@y.z")
    with pytest.raises(ValueError, match="bot"):
        make(bot_username="shop bot?start=evil")
    with pytest.raises(ValueError, match="public URL"):
        make(public_url="javascript:alert(1)")
    assert make(bot_username="@shop_bot") is not None


# -- the other topics ------------------------------------------------------------------------


async def test_the_shops_answer_in_the_dialog_is_quoted_and_its_files_named(
    services, reader, signer
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    dialog = DialogService(services.sessions, services.clock)
    question = await dialog.from_buyer(
        order.id, ActorRef.buyer(order.buyer_id), text="When do you ship?"
    )
    async with services.sessions() as session, session.begin():
        session.add(
            DialogRelay(
                dialog_message_id=question.id,
                order_id=order.id,
                chat_id=GROUP,
                message_id=70,
                created_at=services.clock.now(),
            )
        )
    answer = await dialog.from_staff_reply(
        GROUP,
        70,
        ActorRef.user(shop.manager.id),
        text="Tomorrow <b>morning</b>.\nThanks!",
        attachments=[
            {"kind": "photo", "file_id": "AgAD-photo", "name": None},
            {"kind": "document", "file_id": "BQAD-doc", "name": "invoice.pdf"},
        ],
    )
    [row] = await email_rows(services, "dialog_to_buyer")
    assert row.payload == {"dialog_message_id": answer.id}

    mail = await reader.read(row, services.clock.now())

    assert mail.to_address == "buyer@example.com"
    assert f"#{order.number}" in mail.subject and "Shop marketplace" in mail.subject
    assert "> Tomorrow <b>morning</b>.\n> Thanks!" in mail.text
    assert "Tomorrow &lt;b&gt;morning&lt;/b&gt;.<br>Thanks!" in mail.html
    assert "  - фото\n  - invoice.pdf" in mail.text
    assert mail.attachments == []  # Telegram's files are not here: named only
    assert signer.order_of_reply(mail.reply_to, DOMAIN) == order.id


async def test_a_dialog_message_that_is_gone_gets_no_mail(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    row = OutboxMessage(
        id=1001,
        dedupe_key="d",
        channel="email",
        audience="buyer",
        topic="dialog_to_buyer",
        order_id=order.id,
        payload={"dialog_message_id": 987_654},
    )
    assert await reader.read(row, services.clock.now()) is None
    async with services.sessions() as session:
        assert await session.scalar(select(DialogMessage.id)) is None


async def test_a_change_and_a_split_are_told_with_the_new_totals(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop, item("A", 2, 10_000), item("B", 1, 5_000))
    await set_buyer(services, order, language="en")
    manager = shop.as_user(shop.manager)
    changed = await services.orders.set_discount(order.id, manager, order_discount=1_000)
    [row] = await email_rows(services, "order_changed")
    mail = await reader.read(row, services.clock.now())
    assert mail.subject == f"Your order #{order.number} at Shop marketplace was changed"
    assert "has given a discount on your order" in mail.text
    assert money(changed.total, "RUB", "en") in mail.text
    assert f"Discount: −{money(1_000, 'RUB', 'en')}" in mail.text

    a_line = next(i for i in changed.items if i.sku == "A")
    _, new = await services.orders.split(
        order.id, manager, move={a_line.id: 1}, reason="different_warehouses"
    )
    [row] = await email_rows(services, "order_split")
    mail = await reader.read(row, services.clock.now())
    assert mail.subject == f"Part of your order #{order.number} is now order #{new.number}"
    assert "Item A" in mail.text and "Item B" not in mail.text
    assert mail.references == [f"<order-{new.id}@{DOMAIN}>"]


async def test_the_payment_reminder(services, reader, signer):
    shop = await make_shop(services, payment_instructions=INSTRUCTIONS)
    order = await make_order(services, shop)
    await set_buyer(services, order, language="en")
    await act(services, shop, order, shop.manager, "confirm")
    async with services.sessions() as session:
        timer = await session.scalar(
            select(Timer).where(Timer.order_id == order.id, Timer.code == "payment_reminder")
        )
    services.clock.set(timer.due_at)
    await services.orders.fire_timer(timer.id)
    [row] = await email_rows(services, "reminder")  # no Telegram: by e-mail

    mail = await reader.read(row, services.clock.now())

    assert mail.subject == f"Order #{order.number} is waiting for your payment"
    assert INSTRUCTIONS in mail.text
    assert links(mail, signer, services.clock.now()) == {"cancel": (order.id, order.buyer_id)}


# -- all the way to the bytes ----------------------------------------------------------------


async def test_every_mail_of_an_order_composes_and_parses_back(services, reader, signer):
    shop = await make_shop(services)
    await set_shop(services, shop.id, name="Чайная «Лавка»\r\nBcc: victim@example.com")
    order = await make_order(services, shop, item("A", 1, 10_000))
    await set_buyer(services, order, name="Иван\nПетров")
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.packer, "ship", carrier="CDEK", track_code="1234567890")
    rows = await email_rows(services)
    assert [r.topic for r in rows] == ["new_order", "order_created"] + ["status_changed"] * 3

    for row in rows:
        mail = await reader.read(row, services.clock.now())
        raw = compose(mail, from_address="robot@shopbot.example").data
        parsed = email.message_from_bytes(raw, policy=default)
        assert parsed["Bcc"] is None
        assert [a.addr_spec for a in parsed["To"].addresses] == [mail.to_address]
        assert addresses(raw, "From") == [
            ("Чайная «Лавка» Bcc: victim@example.com через ShopBot", "robot@shopbot.example")
        ]
        assert parsed["Subject"] == mail.subject and "\n" not in mail.subject
        assert parsed["Message-ID"] == mail.message_id
        assert parsed["References"] == f"<order-{order.id}@{DOMAIN}>"
        assert parsed["Content-Language"] == "ru"
        if row.audience == "buyer":
            assert addresses(raw, "To") == [("Иван Петров", "buyer@example.com")]
            assert signer.order_of_reply(str(parsed["Reply-To"]), DOMAIN) == order.id
        else:
            assert addresses(raw, "To") == [
                ("Чайная «Лавка» Bcc: victim@example.com", "shop@example.com")
            ]
            assert str(parsed["Reply-To"]) == "buyer@example.com"


async def test_the_storefronts_own_number_is_in_the_mail(services, reader):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        (await session.get(Order, order.id)).storefront_number = "#1001"
    [row] = await email_rows(services, "order_created")

    mail = await reader.read(row, services.clock.now())

    for part in (mail.text, mail.html):
        assert f"Заказ #{order.number}" in part and "на сайте: #1001" in part
