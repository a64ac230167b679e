"""Documents end to end through the emulator (E1-E3): the owner downloads the invoice template,
uploads a broken one (the exact reason, nothing saved), uploads a good one (a preview, then
saved on confirmation), the next invoice uses it, the previous version is restored; staff get
documents from the order card, the buyer gets the invoice with "awaiting payment" and from
their card."""

from __future__ import annotations

import io

import pypdf
from sqlalchemy import select

from services.documents.defaults import default_template
from storage.models import DocumentTemplate
from tests.e2e.chats import card_of, labels, message_starting, open_settings
from tests.e2e.shops import ShopRecipe, buyer_via_link, db_user, open_shop, place_order, ref

MINE = (
    "<h1>Our own invoice {{ order.number }}</h1>\n"
    "<p>{{ buyer.name }} pays {{ totals.total }}</p>\n"
    '<p><img src="{{ barcode.image }}" width="150"></p>\n'
)


def text_of(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


SHOP = ShopRecipe(language="en")
BANK = "recipient: Cats & Dogs LLC\ninn: 7707083893\naccount: 40702810938000012345\nbic: 044525225"


async def setup(tg):
    """The shop with an order, and its buyer Ivan in the bot."""
    shop_id, owner, manager = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    ivan = await buyer_via_link(tg, order)
    return shop_id, owner, manager, await ref(tg, manager), order, ivan


async def saved_templates(tg, shop_id) -> list[tuple[int, bool]]:
    async with tg.container.sessions() as session:
        rows = await session.scalars(
            select(DocumentTemplate)
            .where(DocumentTemplate.shop_id == shop_id)
            .order_by(DocumentTemplate.version)
        )
        return [(row.version, row.active) for row in rows]


async def open_invoice_template(tg, owner):
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="📄 Documents")
    assert menu.text.startswith("📄 Documents")
    await tg.tap(owner, menu, text="Invoice · EN")
    return menu


async def test_the_template_is_downloaded_checked_previewed_saved_and_restored(tg):
    shop_id, owner, _manager, manager_ref, order, ivan = await setup(tg)
    screen = await open_invoice_template(tg, owner)
    assert "In use: the default template." in screen.text
    assert "↩️ Restore the previous version" not in labels(tg, screen)

    # when the owner downloads the template: the default, as an HTML file
    await tg.tap(owner, screen, text="⬇️ Download the template")
    downloaded = tg.last(owner).document
    assert downloaded.name == "invoice-en.html"
    assert downloaded.content.decode() == default_template("invoice", "en")

    # when they send back a template with a misspelt variable
    tg.emulator.send_document(owner, "invoice-en.html", b"<h1>Invoice</h1>\n<p>{{ order.nmber }}")
    await tg.settle()
    # then the exact reason with its line, and nothing is saved
    assert tg.last(owner).text == (
        "Not saved: Line 2: unknown variable 'nmber'\n\nFix the file and send it again."
    )
    # and so with an attempt to walk to Python's internals
    tg.emulator.send_document(owner, "x.html", b"{{ cycler.__init__.__globals__.os }}")
    await tg.settle()
    assert tg.last(owner).text.startswith(
        "Not saved: Line 1: access to the private attribute '__init__'"
    )
    assert await saved_templates(tg, shop_id) == []

    # when they send a good one: a preview PDF on a sample order, with Save and Cancel
    tg.emulator.send_document(owner, "invoice-en.html", MINE.encode())
    await tg.settle()
    preview = tg.last(owner)
    assert preview.caption == "Preview on a sample order. Save this template?"
    assert preview.document.name.endswith(".pdf")
    assert text_of(preview.document.content).startswith("Our own invoice 1042 Иван Петров pays")
    assert labels(tg, preview) == ["✅ Save", "✖️ Cancel"]
    assert await saved_templates(tg, shop_id) == []
    # and Cancel saves nothing and asks for a file again
    await tg.tap(owner, preview, text="✖️ Cancel")
    assert "In use: the default template." in tg.last(owner).text
    assert await saved_templates(tg, shop_id) == []
    tg.emulator.send_document(owner, "invoice-en.html", b"<p>An older try</p>")
    await tg.settle()
    older = tg.last(owner)
    tg.emulator.send_document(owner, "invoice-en.html", MINE.encode())
    await tg.settle()
    preview = tg.last(owner)
    # and the older preview's Save saves nothing: it showed another text
    callback = await tg.tap(owner, older, text="✅ Save")
    assert tg.answer(callback) == "This preview is out of date: send the file again."
    assert await saved_templates(tg, shop_id) == []
    # and Save saves it as version 1
    await tg.tap(owner, preview, text="✅ Save")
    assert any(
        m.text == "✅ Saved: Invoice (EN), version 1. The next documents use it."
        for m in tg.emulator.messages(owner)
        if m.outgoing
    )
    assert await saved_templates(tg, shop_id) == [(1, True)]
    # and a second tap on the old preview saves nothing more
    await tg.tap(owner, preview, text="✅ Save")
    assert await saved_templates(tg, shop_id) == [(1, True)]

    # when the manager bills the order, the buyer's news comes with the shop's own invoice
    await tg.container.orders.apply(order.id, manager_ref, "confirm")
    await tg.deliver()
    news = [m for m in tg.emulator.messages(ivan) if m.outgoing and m.document is not None]
    assert len(news) == 1
    assert news[0].document.name == f"invoice-{order.number}.pdf"
    assert f"Order #{order.number} at Cats & Dogs: Awaiting payment" in news[0].caption
    assert text_of(news[0].document.content).startswith(
        f"Our own invoice {order.number} Ivan Petrov pays"
    )

    # when the owner restores the previous version: the default again
    screen = message_starting(tg, owner, "📄 Invoice")
    assert "In use: the shop's version 1." in screen.text
    callback = await tg.tap(owner, screen, text="↩️ Restore the previous version")
    assert tg.answer(callback) == "Restored: the default template."
    assert "In use: the default template." in screen.text
    assert await saved_templates(tg, shop_id) == [(1, False)]

    # and the buyer's card offers the invoice again: now the default one
    card = card_of(tg, ivan, order.number)
    await tg.tap(ivan, card, text="📄 Invoice")
    again = tg.last(ivan).document
    assert again.name == f"invoice-{order.number}.pdf"
    assert text_of(again.content).startswith(f"Invoice № {order.number}")
    # and "How to pay" offers the invoice; the bank payment slip once there are bank details
    await tg.tap(ivan, card, text="💳 How to pay")
    assert labels(tg, tg.last(ivan))[-1:] == ["📄 Invoice"]
    owner_id = (await db_user(tg, owner)).id
    await tg.container.documents.set_bank_details(shop_id, owner_id, BANK)
    await tg.tap(ivan, card, text="💳 How to pay")
    how = tg.last(ivan)
    assert labels(tg, how)[-2:] == ["📄 Invoice", "📄 Payment slip"]
    await tg.tap(ivan, how, text="📄 Payment slip")
    slip = tg.last(ivan).document
    assert slip.name == f"payment-slip-{order.number}.pdf"
    assert "Bank payment slip" in text_of(slip.content)


async def test_staff_get_every_document_from_the_card_and_others_none(tg):
    shop_id, _owner, manager, _manager_ref, order, ivan = await setup(tg)
    await tg.say(manager, f"/order {order.number}")
    card = tg.last(manager)
    assert "📄 Documents" in labels(tg, card)
    # when the manager taps "📄 Documents" (no bank details yet: no payment slip), then the
    # packing list
    await tg.tap(manager, card, text="📄 Documents")
    menu = tg.last(manager)
    assert labels(tg, menu) == ["📄 Invoice", "📄 Packing list"]
    await tg.tap(manager, menu, text="📄 Packing list")
    waybill = tg.last(manager).document
    assert waybill.name == f"waybill-{order.number}.pdf"
    text = text_of(waybill.content)
    assert "Packing list" in text and "Item CAT-1" in text and "Moscow, Tverskaya 1" in text
    # and the buyer, forging the same button, gets no waybill
    before = len(tg.emulator.messages(ivan))
    await tg.forged_tap(
        ivan, tg.last(ivan), menu.reply_markup["inline_keyboard"][1][0]["callback_data"]
    )
    assert all(m.document is None for m in tg.emulator.messages(ivan)[before:])
    # and a manager may not open the templates (owner and admins only)
    from handlers.telegram.document_callbacks import DocAct, DocCB

    await tg.forged_tap(
        manager,
        tg.last(manager),
        DocCB(act=DocAct.TEMPLATE, shop=shop_id, kind="invoice", lang="en").pack(),
    )
    assert not any(
        (m.document and m.document.name.endswith(".html")) for m in tg.emulator.messages(manager)
    )
    assert "In use" not in (tg.last(manager).text or "")
