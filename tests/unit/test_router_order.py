"""The card's buttons are tried first: no router they now precede could take their taps."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackQueryFilter

from handlers.telegram import get_routers
from handlers.telegram.callbacks import OrderCB


def test_no_router_before_the_order_card_answers_order_card_data():
    routers = get_routers()
    names = [router.name for router in routers]
    assert names[0] == "handlers.telegram.order_card.buttons"
    # given the routers the buttons used to come after
    before = routers[1 : names.index("handlers.telegram.order_card")]
    assert before, "the order card's own router is still listed"
    for router in before:
        for handler in router.callback_query.handlers:
            # then each of their button handlers wants callback data of another kind
            kinds = [
                f.callback for f in handler.filters if isinstance(f.callback, CallbackQueryFilter)
            ]
            assert kinds, f"{router.name}: {handler.callback.__name__} takes any button"
            assert all(k.callback_data is not OrderCB for k in kinds), router.name
            assert all(k.callback_data.__prefix__ != OrderCB.__prefix__ for k in kinds)
