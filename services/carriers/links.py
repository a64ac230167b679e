"""The buyer's way to follow a parcel: the carrier's public tracking page for a code, and the
carriers' names as the Telegram carrier buttons show them.

Every carrier a shop may name is here, with or without an adapter; a page address is given
only where the carrier publishes one that takes the code (otherwise None, and the bot shows
the code alone). The code goes in URL-quoted, so nothing a shop typed can change the address.
"""

from __future__ import annotations

from urllib.parse import quote

MAX_CODE = 64

# key -> names by language (ru, uk, en).
CARRIERS: dict[str, dict[str, str]] = {
    "russian_post": {"ru": "Почта России", "uk": "Пошта Росії", "en": "Russian Post"},
    "cdek": {"ru": "СДЭК", "uk": "СДЕК", "en": "CDEK"},
    "boxberry": {"ru": "Boxberry", "uk": "Boxberry", "en": "Boxberry"},
    "nova_poshta": {"ru": "Новая почта", "uk": "Нова пошта", "en": "Nova Poshta"},
    "ukrposhta": {"ru": "Укрпочта", "uk": "Укрпошта", "en": "Ukrposhta"},
    "meest": {"ru": "Meest", "uk": "Meest", "en": "Meest"},
    "dpd": {"ru": "DPD", "uk": "DPD", "en": "DPD"},
    "pek": {"ru": "ПЭК", "uk": "ПЕК", "en": "PEK"},
    "dellin": {"ru": "Деловые Линии", "uk": "Ділові Лінії", "en": "Delovye Linii"},
    "yandex_delivery": {"ru": "Яндекс Доставка", "uk": "Яндекс Доставка", "en": "Yandex Delivery"},
    "ozon": {"ru": "Ozon", "uk": "Ozon", "en": "Ozon"},
}

# The carriers' own public tracking pages; {code} is replaced by the quoted code.
TRACKING_PAGES: dict[str, str] = {
    "russian_post": "https://www.pochta.ru/tracking?barcode={code}",
    "cdek": "https://www.cdek.ru/ru/tracking?order_id={code}",
    "boxberry": "https://boxberry.ru/tracking-page?id={code}",
    "nova_poshta": "https://novaposhta.ua/tracking/?cargo_number={code}",
    "ukrposhta": "https://track.ukrposhta.ua/tracking_UA.html?barcode={code}",
    "pek": "https://pecom.ru/services-are/order-status/?code={code}",
    "dellin": "https://www.dellin.ru/tracker/orders/{code}/",
}
# Without a per-code address the buyer can open: meest, dpd, yandex_delivery, ozon (their
# pages take the code in a form, or track by an order inside the buyer's own account).


def tracking_url(carrier: str, code: str) -> str | None:
    page = TRACKING_PAGES.get(carrier)
    code = code.strip() if isinstance(code, str) else ""
    if page is None or not code or len(code) > MAX_CODE:
        return None
    return page.replace("{code}", quote(code, safe=""))


def display_name(carrier: str, language: str = "ru") -> str:
    names = CARRIERS.get(carrier)
    if names is None:
        return carrier
    return names.get(language) or names["en"]
