"""Callback data of documents (E1-E3), apart from their router so that the settings menu, the
order card and the buyer's card can draw document buttons without importing it.

Ids and closed-list codes only (the document kind, the language): DocumentService decides
whether the tapper may have or change them.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from handlers.telegram.callbacks import QuickPack


class DocAct(StrEnum):
    TEMPLATES = "t"  # settings: the documents and languages to edit
    TEMPLATE = "e"  # settings: one template (`kind`, `lang`): download, upload, restore
    DOWNLOAD = "d"  # settings: the template's text as a file
    SAVE = "s"  # settings: save the uploaded template that was previewed
    RESTORE = "r"  # settings: back to the previous version
    BANK = "b"  # settings: the shop's bank details for the payment slip
    ORDER = "o"  # the order card's "📄 Documents": which document of order `id`
    GET = "g"  # the PDF of `kind` for order `id`


class DocCB(QuickPack, CallbackData, prefix="dc"):
    act: DocAct
    shop: int = 0
    id: int = 0  # the order
    kind: str = ""  # invoice | waybill | payment_slip
    lang: str = ""
    v: int = 0  # the order version the card was drawn from; SAVE: the preview's number
