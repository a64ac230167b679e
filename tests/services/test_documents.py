"""Documents against the real database (SQLite and PostgreSQL): an order's PDFs for those who
may see it, template versions (save, restore the previous one), the bank details, and the
invoice attached to the buyer's "awaiting payment" e-mail."""

from __future__ import annotations

import io

import pypdf
import pytest
from sqlalchemy import select

from services.documents.defaults import default_template
from services.documents.sandbox import TemplateProblem
from services.documents.service import DocumentService
from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Reason, Refused
from storage.models import DocumentTemplate, OutboxMessage
from tests.factories import item, mail_reader, make_order, make_shop

BANK = (
    "recipient: ООО Ромашка\ninn: 7707083893\nkpp: 770101001\n"
    "account: 40702810938000012345\nbank_name: ПАО Сбербанк\nbic: 044525225\n"
    "corr_account: 30101810400000000225"
)
MINE = "<h1>Our own invoice {{ order.number }}</h1><p>{{ buyer.name }}: {{ totals.total }}</p>"


@pytest.fixture
def documents(services) -> DocumentService:
    return DocumentService(services.sessions, services.clock, services.orders)


def text_of(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


async def template_rows(services, shop_id: int) -> list[DocumentTemplate]:
    async with services.sessions() as session:
        rows = await session.scalars(
            select(DocumentTemplate)
            .where(DocumentTemplate.shop_id == shop_id)
            .order_by(DocumentTemplate.version)
        )
        return list(rows)


async def test_staff_and_the_buyer_get_the_orders_documents(services, documents):
    # given an order with two goods
    shop = await make_shop(services)
    order = await make_order(services, shop, item("TEA-1", 2, 45_000), item("CUP-2", 1, 89_000))
    # when a packer asks for the waybill
    waybill = await documents.for_order(order.id, shop.as_user(shop.packer), "waybill", "en")
    # then it is the order's waybill
    assert waybill.name == f"waybill-{order.number}.pdf"
    text = text_of(waybill.pdf)
    assert "Packing list" in text and "Item TEA-1" in text and "Ivan Petrov" in text
    # and the buyer gets their invoice, but not the shop's waybill
    buyer = ActorRef.buyer(order.buyer_id)
    invoice = await documents.for_order(order.id, buyer, "invoice", "ru")
    assert "Счёт на оплату" in text_of(invoice.pdf)
    with pytest.raises(Refused) as refused:
        await documents.for_order(order.id, buyer, "waybill", "ru")
    assert refused.value.code is Reason.FORBIDDEN
    # and someone who is not staff of this shop learns nothing
    with pytest.raises(OrderRefused):
        await documents.for_order(order.id, shop.as_user(shop.stranger), "invoice", "ru")


async def test_a_saved_template_is_used_and_the_previous_one_restored(services, documents):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    owner = shop.owner.id
    # given the shop has saved nothing: the default is in use, nothing to restore
    info = await documents.template(shop.id, owner, "invoice", "en")
    assert info.is_default and not info.has_previous
    assert info.body == default_template("invoice", "en")
    # when the owner saves their own invoice
    saved = await documents.save(shop.id, owner, "invoice", "en", MINE)
    # then it is version 1 and the next invoice uses it
    assert (saved.version, saved.has_previous) == (1, True)
    invoice = await documents.for_order(order.id, shop.as_user(shop.manager), "invoice", "en")
    assert text_of(invoice.pdf).startswith(f"Our own invoice {order.number} Ivan Petrov:")
    # and other languages and documents keep their defaults
    other = await documents.for_order(order.id, shop.as_user(shop.manager), "invoice", "ru")
    assert "Счёт на оплату" in text_of(other.pdf)
    # when a second version is saved and then the previous one restored
    await documents.save(shop.id, owner, "invoice", "en", MINE.replace("Our own", "Second"))
    restored = await documents.restore_previous(shop.id, owner, "invoice", "en")
    # then the first version is in use again; the second is kept
    assert (restored.version, restored.body) == (1, MINE)
    rows = await template_rows(services, shop.id)
    assert [(r.version, r.active) for r in rows] == [(1, True), (2, False)]
    assert rows[0].created_by_user_id == owner
    # and restoring again goes back to the default, and no further
    default = await documents.restore_previous(shop.id, owner, "invoice", "en")
    assert default.is_default and default.body == default_template("invoice", "en")
    with pytest.raises(Refused) as already:
        await documents.restore_previous(shop.id, owner, "invoice", "en")
    assert already.value.code is Reason.ALREADY
    # and a new upload after that is the newest version
    assert (await documents.save(shop.id, owner, "invoice", "en", MINE)).version == 3


async def test_a_bad_template_is_refused_and_nothing_is_saved(services, documents):
    shop = await make_shop(services)
    with pytest.raises(TemplateProblem) as refused:
        await documents.save(shop.id, shop.owner.id, "waybill", "ru", "<p>\n{{ order.nmber }}</p>")
    assert (refused.value.message, refused.value.line) == ("unknown variable 'nmber'", 2)
    with pytest.raises(TemplateProblem):
        await documents.preview(shop.id, shop.owner.id, "waybill", "ru", "{{ ''.__class__ }}")
    assert await template_rows(services, shop.id) == []


async def test_only_the_owner_and_admins_edit_templates(services, documents):
    shop = await make_shop(services)
    for person in (shop.manager, shop.packer):
        with pytest.raises(Refused) as refused:
            await documents.save(shop.id, person.id, "invoice", "ru", MINE)
        assert refused.value.code is Reason.FORBIDDEN
    with pytest.raises(Refused) as refused:
        await documents.template(shop.id, shop.stranger.id, "invoice", "ru")
    assert refused.value.code is Reason.NOT_FOUND
    assert await template_rows(services, shop.id) == []


async def test_bank_details_fill_the_payment_slip(services, documents):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    # a bad account number is refused, naming the line
    with pytest.raises(Refused) as refused:
        await documents.set_bank_details(shop.id, shop.owner.id, "account: 123")
    assert refused.value.message == "line 1: account is 20 digits"
    assert (await documents.bank_details(shop.id, shop.owner.id))["account"] == ""
    # good details are saved and printed on the slip
    await documents.set_bank_details(shop.id, shop.owner.id, BANK)
    slip = await documents.for_order(order.id, shop.as_user(shop.accountant), "payment_slip", "ru")
    text = text_of(slip.pdf)
    assert "40702810938000012345" in text and "044525225" in text and "ПАО Сбербанк" in text


async def test_the_payment_slip_waits_for_the_bank_details(services, documents):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    buyer = ActorRef.buyer(order.buyer_id)
    # no bank details: nobody is offered a slip, and asking for one anyway is refused
    with pytest.raises(Refused) as refused:
        await documents.for_order(order.id, buyer, "payment_slip", "ru")
    assert refused.value.code is Reason.INVALID
    # a wrong INN or KPP is refused, naming the line, and saves nothing
    for bad, why in (("inn: 7701234567", "not a valid INN"), ("kpp: 77010100", "not a KPP")):
        with pytest.raises(Refused) as refused:
            text = "recipient: ООО Ромашка\n" + bad
            await documents.set_bank_details(shop.id, shop.owner.id, text)
        assert refused.value.message.startswith("line 2: ") and why in refused.value.message
    assert (await documents.bank_details(shop.id, shop.owner.id))["recipient"] == ""
    # with them, the buyer gets it
    await documents.set_bank_details(shop.id, shop.owner.id, BANK + "\nvat: 22%")
    assert (await documents.bank_details(shop.id, shop.owner.id))["vat"] == "22"
    slip = await documents.for_order(order.id, buyer, "payment_slip", "ru")
    assert "40702810938000012345" in text_of(slip.pdf)


async def test_the_invoice_is_one_a_russian_accountant_pays(services, documents):
    shop = await make_shop(services)
    order = await make_order(services, shop, item("TEA-1", 2, 45_000))
    await documents.set_bank_details(shop.id, shop.owner.id, BANK + "\nvat: none")
    invoice = await documents.for_order(order.id, shop.as_user(shop.owner), "invoice", "ru")
    text = text_of(invoice.pdf)
    assert "Поставщик: ООО Ромашка, ИНН 7707083893, КПП 770101001" in text
    assert "Банк получателя: ПАО Сбербанк, БИК 044525225" in text
    assert "р/с 40702810938000012345" in text
    assert "Девятьсот рублей, ноль копеек" in text
    assert "Без НДС" in text
    assert "г.." not in text
    # a VAT payer's invoice shows the VAT included in the total
    await documents.set_bank_details(shop.id, shop.owner.id, BANK + "\nvat: 22")
    invoice = await documents.for_order(order.id, shop.as_user(shop.owner), "invoice", "ru")
    assert "В том числе НДС 22 %: 162,30 ₽" in text_of(invoice.pdf)


async def awaiting_payment_mail(services, shop):
    """The buyer's "awaiting payment" mail of a new order the manager confirms."""
    order = await make_order(services, shop)
    reader = mail_reader(services)
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm", {})
    async with services.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == "email", OutboxMessage.topic == "status_changed")
                .order_by(OutboxMessage.id)
            )
        )
    assert rows and rows[-1].payload["status"] == "awaiting_payment"
    return order, await reader.read(rows[-1], services.clock.now())


async def test_the_awaiting_payment_mail_only_links_the_invoice_when_the_shop_says_so(services):
    # given a shop that turned attachments off, and an order the manager confirms
    shop = await make_shop(services, email_invoice_pdf=False)
    # when the "awaiting payment" e-mail is read
    _order, mail = await awaiting_payment_mail(services, shop)
    # then it attaches nothing: its signed link is the invoice (issue 15: no PDF per mail)
    assert mail.attachments == []
    assert "https://shop.example/l/" in mail.text
    assert "Скачать счёт (PDF)" in mail.text


async def test_the_awaiting_payment_mail_carries_the_invoice_by_default(services):
    # given a shop that left the e-mails' invoice as it comes (SPEC E3: an attachment)
    shop = await make_shop(services)
    # when the "awaiting payment" e-mail is read
    order, mail = await awaiting_payment_mail(services, shop)
    # then it has the order's invoice as a PDF, in the buyer's language
    [(name, content_type, data)] = mail.attachments
    assert (name, content_type) == (f"invoice-{order.number}.pdf", "application/pdf")
    text = text_of(data)
    assert "Счёт на оплату" in text and f"№ {order.number}" in text
