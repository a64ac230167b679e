"""The documents every shop starts with, in Russian, Ukrainian and English.

One HTML layout per document (services/documents/layouts/<kind>.html) with its words as
[[label]] markers, filled here per language: the shop downloads, edits and uploads the filled
text, a plain template in its own language. (The labels are document wording, not bot UI, so
they live here rather than in the bot's gettext catalogs.)
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

KINDS = ("invoice", "waybill", "payment_slip")
FOLDER = Path(__file__).parent / "layouts"
_LABEL = re.compile(r"\[\[(\w+)\]\]")

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "invoice": "Счёт на оплату",
        "waybill": "Товарно-транспортная накладная",
        "dated": "от",
        "of": "от",
        "seller": "Поставщик",
        "shipper": "Грузоотправитель",
        "consignee": "Грузополучатель",
        "unloading": "Пункт разгрузки",
        "transport": "Доставка",
        "track": "трек-номер",
        "buyer": "Покупатель",
        "order": "Заказ",
        "payment": "оплата",
        "inn": "ИНН",
        "kpp": "КПП",
        "goods": "Товар",
        "sku": "Артикул",
        "qty": "Кол-во",
        "price": "Цена",
        "discount": "Скидка",
        "amount": "Сумма",
        "goods_total": "Итого по товарам",
        "order_discount": "Скидка на заказ",
        "delivery": "Доставка",
        "to_pay": "Всего к оплате",
        "lines_count": "Всего наименований",
        "total_sum": "на сумму",
        "pay_until": "Оплатить до",
        "purpose_hint": "В назначении платежа укажите",
        "scan_to_pay": "Отсканируйте в приложении банка для оплаты",
        "issued_by": "Выдал",
        "places": "Всего единиц",
        "comment": "Комментарий",
        "released": "Отпуск груза произвёл",
        "received": "Груз получил",
        "signature": "подпись, ФИО",
        "notice": "Извещение",
        "receipt": "Квитанция",
        "cashier": "Кассир",
        "form": "Форма № ПД-4",
        "recipient": "получатель платежа",
        "account": "р/с",
        "in_bank": "в",
        "bic": "БИК",
        "corr": "к/с",
        "purpose": "Назначение платежа",
        "payer": "Плательщик",
        "payer_address": "Адрес плательщика",
        "sum": "Сумма платежа",
        "payer_signature": "Подпись плательщика",
        "date": "Дата",
    },
    "uk": {
        "invoice": "Рахунок на оплату",
        "waybill": "Товарно-транспортна накладна",
        "dated": "від",
        "of": "від",
        "seller": "Постачальник",
        "shipper": "Вантажовідправник",
        "consignee": "Вантажоодержувач",
        "unloading": "Пункт розвантаження",
        "transport": "Доставка",
        "track": "трек-номер",
        "buyer": "Покупець",
        "order": "Замовлення",
        "payment": "оплата",
        "inn": "ІПН",
        "kpp": "КПП",
        "goods": "Товар",
        "sku": "Артикул",
        "qty": "К-сть",
        "price": "Ціна",
        "discount": "Знижка",
        "amount": "Сума",
        "goods_total": "Разом за товари",
        "order_discount": "Знижка на замовлення",
        "delivery": "Доставка",
        "to_pay": "Усього до сплати",
        "lines_count": "Усього найменувань",
        "total_sum": "на суму",
        "pay_until": "Сплатити до",
        "purpose_hint": "У призначенні платежу вкажіть",
        "scan_to_pay": "Відскануйте в застосунку банку, щоб сплатити",
        "issued_by": "Виписав",
        "places": "Усього одиниць",
        "comment": "Коментар",
        "released": "Відпуск вантажу здійснив",
        "received": "Вантаж отримав",
        "signature": "підпис, ПІБ",
        "notice": "Повідомлення",
        "receipt": "Квитанція",
        "cashier": "Касир",
        "form": "Квитанція на оплату",
        "recipient": "отримувач платежу",
        "account": "рахунок",
        "in_bank": "у",
        "bic": "БІК",
        "corr": "кор. рах.",
        "purpose": "Призначення платежу",
        "payer": "Платник",
        "payer_address": "Адреса платника",
        "sum": "Сума платежу",
        "payer_signature": "Підпис платника",
        "date": "Дата",
    },
    "en": {
        "invoice": "Invoice",
        "waybill": "Waybill",
        "dated": "dated",
        "of": "of",
        "seller": "Seller",
        "shipper": "Shipper",
        "consignee": "Consignee",
        "unloading": "Deliver to",
        "transport": "Delivery",
        "track": "track code",
        "buyer": "Buyer",
        "order": "Order",
        "payment": "payment",
        "inn": "Tax ID",
        "kpp": "KPP",
        "goods": "Item",
        "sku": "SKU",
        "qty": "Qty",
        "price": "Price",
        "discount": "Discount",
        "amount": "Amount",
        "goods_total": "Goods",
        "order_discount": "Order discount",
        "delivery": "Delivery",
        "to_pay": "Total due",
        "lines_count": "Lines",
        "total_sum": "amounting to",
        "pay_until": "Please pay by",
        "purpose_hint": "Payment reference",
        "scan_to_pay": "Scan with your banking app to pay",
        "issued_by": "Issued by",
        "places": "Units",
        "comment": "Comment",
        "released": "Released by",
        "received": "Received by",
        "signature": "signature, name",
        "notice": "Notice",
        "receipt": "Receipt",
        "cashier": "Cashier",
        "form": "Bank payment slip",
        "recipient": "payee",
        "account": "account",
        "in_bank": "at",
        "bic": "BIC",
        "corr": "corr. account",
        "purpose": "Payment purpose",
        "payer": "Payer",
        "payer_address": "Payer's address",
        "sum": "Amount",
        "payer_signature": "Payer's signature",
        "date": "Date",
    },
}

TITLES = {
    "ru": {"invoice": "Счёт", "waybill": "Накладная", "payment_slip": "Квитанция"},
    "uk": {"invoice": "Рахунок", "waybill": "Накладна", "payment_slip": "Квитанція"},
    "en": {"invoice": "Invoice", "waybill": "Waybill", "payment_slip": "Payment slip"},
}


def file_name(kind: str, language: str, number: int) -> str:
    """'invoice-1042.pdf': Latin, so every mail client and Telegram app shows it as it is."""
    return f"{kind.replace('_', '-')}-{number}.pdf"


@cache
def default_template(kind: str, language: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"no document {kind!r}")
    labels = LABELS.get(language, LABELS["en"])
    layout = (FOLDER / f"{kind}.html").read_text(encoding="utf-8")
    return _LABEL.sub(lambda match: labels[match.group(1)], layout)
