"""Every audit event that is not a transition is named once (OrderEvents) and has its words
in the order's history."""

from __future__ import annotations

import pathlib
import re

from bot.i18n import build_i18n
from handlers.telegram.order_card import event_names
from services.orders.events import OrderEvents

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_event_has_its_words_in_the_history():
    i18n = build_i18n()
    for language in ("ru", "uk", "en"):
        with i18n.context(), i18n.use_locale(language):
            names = event_names()
        assert set(names) == set(OrderEvents)
        assert all(names.values())


def test_no_service_records_an_event_by_a_bare_string():
    # given every place a service writes an audit event (`add_event(..., action=...)`)
    bare = re.compile(r"""\baction=["'f]""")
    offenders = []
    for path in (ROOT / "services").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            call = "\n".join(lines[max(0, index - 3) : index + 1])
            if bare.search(line) and "add_event" in call:
                offenders.append(f"{path.relative_to(ROOT)}:{index + 1}")
    # then none names its event by a string of its own
    assert offenders == []
