"""The default documents as PDFs: every kind in every language carries the order's data as
text, and its Code 128 barcode and payment QR decode back to what they should say."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
import pypdfium2
import pytest
import zxingcpp

from services.documents.codes import code128_png, payment_payload, qr_png
from services.documents.defaults import KINDS, default_template
from services.documents.render import DocumentRenderer
from services.documents.variables import document_variables, sample_order
from services.vocabulary import LANGUAGES
from storage.models import Shop

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
BANK = {
    "recipient": "ООО «Ромашка»",
    "inn": "7707083893",
    "kpp": "770101001",
    "account": "40702810938000012345",
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "corr_account": "30101810400000000225",
}
# What each language calls things the documents print.
WORDS = {
    "invoice": {"ru": "Счёт на оплату", "uk": "Рахунок на оплату", "en": "Invoice"},
    "waybill": {"ru": "Упаковочный лист", "uk": "Пакувальний лист", "en": "Packing list"},
    "payment_slip": {"ru": "ПД-4", "uk": "Квитанція", "en": "Bank payment slip"},
}


def shop(**settings) -> Shop:
    return Shop(
        id=7,
        name="Ромашка",
        email="shop@example.com",
        timezone="Europe/Moscow",
        currency="RUB",
        language="ru",
        settings={"bank": BANK, **settings},
    )


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def codes_in(pdf: bytes) -> dict[str, str]:
    """What a scanner reads off the printed first page: {format name: text}."""
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=3).to_pil()
    return {code.format.name: code.text for code in zxingcpp.read_barcodes(image)}


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_document_in_every_language(renderer, kind, language):
    # given the sample order of a shop with bank details
    the_shop = shop()
    order = sample_order(the_shop, NOW)
    variables = document_variables(order, the_shop, language, NOW)
    # when the default template is rendered to PDF
    pdf = renderer.pdf(default_template(kind, language), variables)
    # then it is a PDF whose text has the document's title and the order's data
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    assert WORDS[kind][language] in text
    assert "1042" in text
    assert "Иван Петров" in text  # Cyrillic in every language: the buyer's own name
    # the amount due (the waybill: the goods' value)
    total = variables["totals"]["goods" if kind == "waybill" else "total"]
    assert " ".join(total.split()) in text
    if kind != "payment_slip":
        for item in order.items:
            assert item.name in text
    else:
        assert BANK["account"] in text and BANK["bic"] in text
    # and the printed barcode says the order's number
    codes = codes_in(pdf)
    assert codes.get("Code128") == "1042"
    if kind in ("invoice", "payment_slip"):
        # and the payment QR is the GOST R 56042 payload with the sum in kopecks
        assert codes.get("QRCode") == variables["payment"]["qr_text"]
        assert codes["QRCode"].startswith(
            "ST00012|Name=ООО «Ромашка»|PersonalAcc=40702810938000012345|"
        )
        assert f"|Sum={order.total}|" in codes["QRCode"]


def test_the_invoice_shows_the_discounts_and_delivery(renderer):
    the_shop = shop()
    order = sample_order(the_shop, NOW)
    text = text_of(
        renderer.pdf(
            default_template("invoice", "en"), document_variables(order, the_shop, "en", NOW)
        )
    )
    # the mug's own discount, the order's discount, the courier's price
    assert "100.00 RUB" in text and "−50.00 RUB" in text and "courier" in text
    assert "3,850.00 RUB" in text


def test_without_bank_details_there_is_no_payment_qr(renderer):
    the_shop = shop(bank={})
    variables = document_variables(sample_order(the_shop, NOW), the_shop, "ru", NOW)
    assert variables["payment"]["qr"] == ""
    codes = codes_in(renderer.pdf(default_template("invoice", "ru"), variables))
    assert set(codes) == {"Code128"}


def test_the_payment_payload_follows_gost_r_56042():
    payload = payment_payload(
        BANK | {"recipient": "ИП Иванов | ООО"}, 385000, "Оплата заказа №1042"
    )
    assert payload == (
        "ST00012|Name=ИП Иванов ООО|PersonalAcc=40702810938000012345|BankName=ПАО Сбербанк"
        "|BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7707083893|KPP=770101001"
        "|Sum=385000|Purpose=Оплата заказа №1042"
    )
    assert payment_payload({**BANK, "bic": ""}, 100, "x") is None


def test_the_code_images_decode_before_they_are_embedded():
    from PIL import Image

    barcode = zxingcpp.read_barcodes(Image.open(io.BytesIO(code128_png("1042"))))
    assert [(c.format.name, c.text) for c in barcode] == [("Code128", "1042")]
    qr = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png("ST00012|Name=Ромашка"))))
    assert [c.text for c in qr] == ["ST00012|Name=Ромашка"]
