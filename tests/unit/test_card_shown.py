"""Whether a tapped message shows a card already: told from its plain text first, which must
never call a shown card changed (nor a changed card shown)."""

from __future__ import annotations

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from handlers.telegram.order_card import plain_text, shows_already

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="🔄", callback_data="o:s:1:::2")]]
)


def message(text: str, entities: list[dict], markup: InlineKeyboardMarkup | None = KEYBOARD):
    return Message.model_validate(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": text,
            "entities": entities,
            "reply_markup": markup.model_dump(exclude_none=True) if markup else None,
        }
    )


SHOWN = [
    message("Заказ #3 · Shop", [{"type": "bold", "offset": 0, "length": 8}]),
    # what a buyer or a shop typed, with the characters HTML escapes, and a literal reference
    message(
        "Комментарий: <b>a & b</b> &amp; \"q\" 'x' &copy",
        [{"type": "italic", "offset": 13, "length": 12}],
    ),
    message(
        "Трек RR123 👍🏽 ссылка",
        [
            {"type": "code", "offset": 5, "length": 5},
            {"type": "text_link", "offset": 16, "length": 6, "url": "https://t.test/?a=1&b=2"},
        ],
    ),
    message("x\n\ny", [{"type": "pre", "offset": 0, "length": 4, "language": "py"}]),
    message("no entities at all", []),
]


@pytest.mark.parametrize("shown", SHOWN, ids=lambda m: m.text[:12])
def test_a_messages_plain_text_is_read_back_from_its_html(shown):
    assert plain_text(shown.html_text) == shown.text


@pytest.mark.parametrize("shown", SHOWN, ids=lambda m: m.text[:12])
def test_a_card_is_shown_already_only_when_text_and_buttons_are_the_same(shown):
    card = shown.html_text
    assert shows_already(shown, card, KEYBOARD)
    # the same text with other buttons, or without any
    other = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="🔄", callback_data="o:s:1:::3")]]
    )
    assert not shows_already(shown, card, other)
    assert not shows_already(shown, card, None)
    # other text: in its words, or only in its formatting (the same plain text)
    assert not shows_already(shown, card + " ", KEYBOARD)
    assert not shows_already(shown, f"<i>{card}</i>", KEYBOARD)


def test_a_message_without_text_shows_no_card():
    photo = Message.model_validate(
        {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "caption": "x"}
    )
    assert not shows_already(photo, "x", KEYBOARD)
