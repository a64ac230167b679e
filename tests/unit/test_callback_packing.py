"""The card's callback data packed quickly is exactly what aiogram packs, refusals included;
its buttons made quickly are aiogram's buttons."""

from __future__ import annotations

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.card_view import button
from handlers.telegram.dialog import BuyerAct, BuyerCB, DialogCB
from handlers.telegram.document_callbacks import DocAct, DocCB

EXAMPLES = [
    *(OrderCB(act=act, id=12345, arg="confirm", v=7) for act in OrderAct),
    OrderCB(act=OrderAct.REASON, id=1, arg="out_of_stock", x="cancel", v=0),
    OrderCB(act=OrderAct.DO, id=2**40, arg="отменить", v=2**31),  # Cyrillic: bytes, not chars
    *(BuyerCB(act=act, id=9) for act in BuyerAct),
    BuyerCB(act=BuyerAct.PAY),
    DialogCB(id=77),
    *(DocCB(act=act, shop=3, id=4, kind="invoice", lang="uk", v=5) for act in DocAct),
]


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda data: CallbackData.pack(data))
def test_the_quick_packing_is_aiograms(data):
    packed = data.pack()
    assert packed == CallbackData.pack(data)
    assert type(data).unpack(packed) == data


@pytest.mark.parametrize(
    "data",
    [
        OrderCB(act=OrderAct.DO, id=1, arg="a:b"),  # the separator inside a value
        OrderCB(act=OrderAct.DO, id=1, arg="я" * 30),  # 30 characters, 60 bytes: too long
    ],
)
def test_what_aiogram_refuses_is_refused(data):
    with pytest.raises(ValueError):
        CallbackData.pack(data)
    with pytest.raises(ValueError):
        data.pack()


def test_a_card_button_made_as_a_copy_is_the_button_aiogram_makes():
    made = button(text="📜 История", callback_data="o:h:1:::3")
    built = InlineKeyboardButton(text="📜 История", callback_data="o:h:1:::3")
    assert made == built
    assert made.model_fields_set == built.model_fields_set
    assert made.model_dump(exclude_none=True) == built.model_dump(exclude_none=True)
    assert made.model_dump_json(exclude_unset=True) == built.model_dump_json(exclude_unset=True)
    # copies share nothing: changing one leaves the next one made as it should be
    made.text = "changed"
    assert button(text="a", callback_data="b") == InlineKeyboardButton(text="a", callback_data="b")
