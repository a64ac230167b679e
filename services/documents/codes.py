"""The machine-readable parts of a document: the order's Code 128 barcode (seed 002) and QR
codes, among them the Russian bank payment QR in the ST00012 format of GOST R 56042-2014.

Images are PNG bytes embedded into the HTML as data URIs, so a template places them with a
plain `<img src="{{ barcode.image }}">` and no file ever leaves the process.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from functools import lru_cache

import segno
from barcode import Code128
from barcode.writer import ImageWriter

# GOST R 56042: the fields a bank app needs to fill a transfer, in the standard's order.
PAYMENT_FIELDS = (
    ("Name", "recipient"),
    ("PersonalAcc", "account"),
    ("BankName", "bank_name"),
    ("BIC", "bic"),
    ("CorrespAcc", "corr_account"),
    ("PayeeINN", "inn"),
    ("KPP", "kpp"),
)
REQUIRED_PAYMENT_FIELDS = ("recipient", "account", "bank_name", "bic")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@lru_cache(maxsize=256)  # an order's number and payment QR are drawn for every document
def code128_png(text: str) -> bytes:
    """A Code 128 barcode without its human-readable line (the template prints the number)."""
    buffer = io.BytesIO()
    Code128(text, writer=ImageWriter()).write(
        buffer,
        options={"write_text": False, "module_width": 0.3, "module_height": 12, "quiet_zone": 6},
    )
    return buffer.getvalue()


@lru_cache(maxsize=256)
def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    # UTF-8: the standard's "ST00012" header declares it, and Cyrillic names need it.
    segno.make(text, error="m", encoding="utf-8", micro=False).save(
        buffer, kind="png", scale=5, border=4
    )
    return buffer.getvalue()


def _field(value: object) -> str:
    """A value inside the payload: '|' separates fields, so it may not appear in one."""
    return " ".join(str(value or "").replace("|", " ").split())


def payment_payload(bank: Mapping[str, str], amount: int, purpose: str) -> str | None:
    """'ST00012|Name=...|...|Sum=<kopecks>|Purpose=...', or None while the shop's bank details
    lack what a bank app needs to make the transfer."""
    if any(not _field(bank.get(key)) for key in REQUIRED_PAYMENT_FIELDS):
        return None
    parts = ["ST00012"]
    for name, key in PAYMENT_FIELDS:
        value = _field(bank.get(key))
        if value:
            parts.append(f"{name}={value}")
    parts.append(f"Sum={int(amount)}")
    parts.append(f"Purpose={_field(purpose)}")
    return "|".join(parts)
