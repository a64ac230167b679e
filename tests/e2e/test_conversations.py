"""/cancel leaves every conversation (issue 14): no waiting step takes it as its input.

Every state of every conversation the bot has is tried: the person is put in it, sends
/cancel, and is out of it with an answer. Found from the StatesGroup classes themselves, so a
conversation added later is tried too.
"""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.fsm.storage.base import StorageKey

import handlers.telegram
from tests.e2e.conftest import BOT_TOKEN


def every_state() -> list[str]:
    handlers.telegram.get_routers()  # imports every feature module, so all groups exist

    def groups(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from groups(sub)

    states = {
        state.state
        for group in groups(StatesGroup)
        if group.__module__.startswith("handlers.")
        for state in group.__all_states__
    }
    return sorted(states)


async def test_every_state_of_every_conversation_ends_with_cancel(tg):
    # given a person in the bot (a shop owner: every conversation is open to them)
    olga = tg.emulator.user("Olga", language_code="en")
    await tg.container.shops.create_shop(
        name="Cats & Dogs", owner_telegram_id=olga.id, preset="marketplace", owner_name="Olga"
    )
    await tg.say(olga, "/start")
    bot_id = int(BOT_TOKEN.split(":")[0])
    context = FSMContext(
        storage=tg.dispatcher.storage,
        key=StorageKey(bot_id=bot_id, chat_id=olga.id, user_id=olga.id),
    )
    states = every_state()
    assert len(states) >= 25 and "TrackCode:code" in states

    for state in states:
        # when they are in the middle of it (the step's data as its handlers left it)
        await context.set_state(state)
        await context.set_data({"order_id": 1, "number": 1, "action": "ship", "v": 1})
        sent = await tg.say(olga, "/cancel")

        # then they are out of it, and told so
        assert await context.get_state() is None, state
        answers = [m for m in tg.emulator.messages(olga) if m.outgoing][-1:]
        assert answers and answers[0].message_id > sent.message_id, state
