"""`make demo`: the whole flow through the bot, against the built-in Telegram emulator.

Everything is real but Telegram itself: the emulator (with Telegram's flood limits) on a
local port, the bot polling it with its dispatcher, the notification pump, a fresh SQLite
database. People are played by the script: they type and tap exactly as in Telegram, and
every step waits until the bot has handled it. At the end both sides' chats are printed.
When the story needs days to pass (a reminder, a time limit), its clock jumps forward and the
timer sweep runs, as the running bot's scheduler would.

Staff speak English, the buyer Russian: each person gets the bot in their own language.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.container import Container, build_container
from bot.i18n import build_i18n
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.limits import FloodLimits
from bot.sandbox.state import SandboxChat, SandboxMessage, SandboxUser
from bot.scheduler import build_sweep
from bot.settings import Settings
from bot.telegram import build_bot, build_dispatcher
from services.messaging.notifications.pump import RateLimits
from services.time.clock import ShiftedClock
from services.workflow.presets import load_preset
from storage.migrate import upgrade

TOKEN = "123456:DEMO"
INVITE = re.compile(r"start=(inv_[\w-]+)")
BUYER_LINK = re.compile(r"start=([\w-]{16,})")
DEMO_PROVIDER_TOKEN = "284685063:TEST:demo-shop"  # the emulator charges nobody


SHOP_ZONE = "Europe/Moscow"  # the shop's time zone, chosen in onboarding; transcripts use it
# A pause of the pump this short is Telegram's flood control (retry_after), not a timer.
FLOOD_PAUSE = 10.0


@dataclass
class Person:
    user: SandboxUser
    language: str


class Story:
    """The script's hands: people type and tap; each step waits for the bot and the pump."""

    def __init__(self, emulator: TelegramEmulator, container: Container, pump, preset: str):
        self.emulator = emulator
        self.container = container
        self.pump = pump
        self.sweep = build_sweep(container)
        self.i18n = build_i18n()
        self.workflow = load_preset(preset)

    async def later(self, instant: datetime) -> None:
        """Time passes until `instant`; the scheduler's sweep fires what fell due."""
        self.container.clock.jump_to(instant)
        await self.sweep.run_once()
        await self.settle()

    def person(self, name: str, language: str, phone: str | None = None) -> Person:
        user = self.emulator.user(name, language_code=language, phone_number=phone)
        return Person(user, language)

    def t(self, person: Person, text: str) -> str:
        """A button's text as this person sees it: a catalog text or a workflow title."""
        with self.i18n.context(), self.i18n.use_locale(person.language):
            return self.i18n.gettext(text)

    def action(self, person: Person, code: str) -> str:
        transition = next(t for t in self.workflow.transitions if t.code == code)
        return transition.title[person.language]

    async def settle(self) -> None:
        """The bot has handled everything, and the pump has sent what is due: also what
        Telegram's flood control paused for a moment (a chat's burst), waited out here."""
        await self.emulator.wait_processed(timeout=30)
        while True:
            while await self.pump.run_once(100):
                await self.emulator.wait_processed(timeout=30)
            due = await self.pump.next_due()
            wait = (due - self.container.clock.now()).total_seconds() if due else None
            if wait is None or wait > FLOOD_PAUSE:
                return
            await asyncio.sleep(max(wait, 0.05))

    async def say(self, person: Person, text: str, **kwargs) -> SandboxMessage:
        sent = self.emulator.send(person.user, text, **kwargs)
        await self.settle()
        return sent

    async def start(self, person: Person, payload: str | None = None) -> None:
        self.emulator.start_bot(person.user, payload)
        await self.settle()

    async def tap(
        self,
        person: Person,
        message: SandboxMessage | None,
        label: str,
        *,
        about: str | None = None,
    ) -> None:
        """Tap the button `label` on `message`, or (None) on the latest message that has it
        (and mentions `about`). Never "the last message": a notification may have arrived
        after the screen the person means."""
        message = message or self.with_button(person, label, about)
        self.emulator.tap(person.user, message, text=label)
        await self.settle()

    def with_button(self, person: Person, label: str, about: str | None = None) -> SandboxMessage:
        for message in reversed(self.emulator.messages(person.user)):
            rows = self.emulator.buttons(message) if message.outgoing else []
            if any(label in row for row in rows) and (about or "") in (message.content or ""):
                return message
        raise LookupError(f"{person.user.first_name} has no button {label!r}")

    def find(self, chat: Person | SandboxChat, contains: str) -> SandboxMessage:
        """The bot's latest message in the chat containing `contains`."""
        target = chat.user if isinstance(chat, Person) else chat
        for message in reversed(self.emulator.messages(target)):
            if message.outgoing and contains in (message.content or ""):
                return message
        raise LookupError(f"no message with {contains!r} in {target}")

    def transcript(self, chat: Person | SandboxChat) -> str:
        """The chat with the taps and the time passing, in the shop's time zone: the one the
        bot's own messages give times in."""
        target = chat.user if isinstance(chat, Person) else chat
        return self.emulator.transcript(target, ZoneInfo(SHOP_ZONE), taps=True)


async def play(preset: str, *, flood_limits: bool = True) -> str:
    """Play the preset's story; returns the chats as text. Raises if any step goes wrong."""
    folder = Path(tempfile.mkdtemp(prefix="shopbot-demo-"))
    database_url = f"sqlite+aiosqlite:///{folder}/demo.db"
    await asyncio.to_thread(upgrade, database_url)
    # One clock for the bot and the emulator: "two days later" shows in the chats' times too.
    clock = ShiftedClock()
    # Telegram's flood limits, as the real one has them (tests may turn them off for speed).
    flood = None if flood_limits else FloodLimits.off()
    emulator = TelegramEmulator(clock=clock, flood=flood)
    await emulator.start()
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        telegram_api_url=emulator.url,
        database_url=database_url,
    )
    container = build_container(settings, clock=clock)
    bot = build_bot(TOKEN, emulator.url)
    dispatcher = build_dispatcher(container)
    from bot.pumps import build_pump

    pump_bot = build_bot(TOKEN, emulator.url, wait_out_floods=False)
    # Without Telegram's limits in the emulator, the pump need not pace itself either.
    pump = build_pump(container, pump_bot, limits=None if flood_limits else RateLimits.off())
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_as_tasks=False, polling_timeout=1, handle_signals=False
        )
    )
    try:
        await emulator.wait_polling(timeout=30)
        story = Story(emulator, container, pump, preset)
        if preset == "platform":
            return await platform_story(story)
        return await marketplace_story(story)
    finally:
        with contextlib.suppress(RuntimeError):
            await dispatcher.stop_polling()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()
        await pump_bot.session.close()
        await container.close()
        await emulator.stop()


async def open_shop(story: Story, preset_button: str):
    """Olga creates her shop, invites Max (manager) and Petr (packer), binds the staff group."""
    olga = story.person("Olga", "en")
    max_ = story.person("Max", "en")
    petr = story.person("Petr", "en")
    await story.start(olga)
    await story.tap(olga, None, story.t(olga, "🏪 Create a shop"))
    await story.say(olga, "Cats & Dogs")
    await story.say(olga, "orders@cats-and-dogs.example")
    await story.tap(olga, None, story.t(olga, "Russia"))
    await story.tap(olga, None, SHOP_ZONE)
    await story.tap(olga, None, "RUB")
    await story.tap(olga, None, preset_button)
    await story.tap(olga, None, story.t(olga, "✅ Create"))
    for person, role in ((max_, "manager"), (petr, "packer")):
        await story.say(olga, "/staff")
        await story.tap(olga, None, story.t(olga, "➕ Invite"))
        await story.tap(olga, None, story.t(olga, role))
        invite = INVITE.search(story.find(olga, "start=inv_").text).group(1)
        await story.start(person, invite)
    group = story.emulator.group("Cats & Dogs · staff", olga.user, max_.user, petr.user)
    story.emulator.add_bot_to_group(group, olga.user)
    await story.settle()
    await story.say(olga, "/bind", chat=group)
    return olga, max_, petr, group


async def take_phone_order(
    story: Story, manager: Person, buyer_name: str, goods: str, delivery: str, payment: str
) -> str:
    """The manager takes an order by phone; returns the buyer's deep-link token."""
    await story.say(manager, "/new")
    await story.say(manager, buyer_name)
    await story.say(manager, "+7 916 123-45-67")
    await story.say(manager, goods)
    await story.tap(manager, None, story.t(manager, "✅ Done"))
    await story.tap(manager, None, delivery)
    if "pickup" not in delivery:
        await story.say(manager, "Moscow, Tverskaya 7, apt. 12")
    await story.tap(manager, None, story.t(manager, payment))
    await story.tap(manager, None, story.t(manager, "✅ Create"))
    return BUYER_LINK.search(story.find(manager, "start=").text).group(1)


def card_of(story: Story, person: Person, number: int) -> SandboxMessage:
    """The order's card in this person's chat: the latest message about it with its history
    button (a new-order ping about it has only "open the order")."""
    history = story.t(person, "📜 History")
    for message in reversed(story.emulator.messages(person.user)):
        rows = story.emulator.buttons(message) if message.outgoing else []
        if f"#{number}" in (message.content or "") and any(history in row for row in rows):
            return message
    raise LookupError(f"no card of order #{number} for {person.user.first_name}")


async def marketplace_story(story: Story) -> str:
    olga, max_, petr, group = await open_shop(story, "Marketplace")
    ivan = story.person("Ivan", "ru", phone="79161234567")
    token = await take_phone_order(
        story, max_, "Ivan Petrov", "Домик-когтеточка; 1; 4990", "post · free", "card"
    )
    await story.start(ivan, token)  # the buyer opens the link the manager sent him
    # Olga lets buyers pay in Telegram: the provider token @BotFather gave (Payments)
    await story.say(olga, "/settings")
    await story.tap(olga, None, story.t(olga, "💳 Payments"))
    await story.tap(olga, None, story.t(olga, "🔌 Telegram Payments"))
    await story.say(olga, DEMO_PROVIDER_TOKEN)

    # Max confirms and bills: Ivan is told to pay
    await story.say(max_, "/order 1")
    await story.tap(max_, None, about="#1", label=story.action(max_, "confirm"))
    # Ivan asks how to pay, then pays with the "Pay" button: the order is paid by itself
    await story.tap(ivan, None, story.t(ivan, "💳 How to pay"))
    await story.tap(ivan, None, story.t(ivan, "💳 Pay"))
    invoice = next(m for m in reversed(story.emulator.messages(ivan.user)) if m.invoice)
    await story.emulator.pay(ivan.user, invoice)
    await story.settle()
    # and thanks the shop in the order's dialog
    await story.tap(ivan, None, story.t(ivan, "💬 Write to the shop"))
    await story.say(ivan, "Оплатил картой, спасибо!")
    await story.say(ivan, "/cancel")
    # Max answers by replying to the relayed message in the staff group
    relayed = story.find(group, "Оплатил картой")
    await story.say(
        max_, "Thank you! Payment received, we ship today.", chat=group, reply_to=relayed
    )
    # Petr ships with the carrier and the track code
    await story.say(petr, "/order 1")
    await story.tap(petr, None, about="#1", label=story.action(petr, "ship"))
    await story.tap(petr, None, "Почта России")
    await story.say(petr, "RA123456789RU")
    # Ivan confirms receipt (his card was redrawn with each change; he confirms once more)
    await story.tap(ivan, None, story.action(ivan, "confirm_receipt"))
    await story.tap(ivan, None, story.t(ivan, "✅ Yes"))
    order = await story.container.orders.get(1, _system())
    assert order.status == "received", order.status
    # he rates it and says a few words; Olga sees the income in her balance (004, F2, F3)
    await story.tap(ivan, None, "5⭐")
    await story.say(ivan, "Кошка в восторге, спасибо!")
    await story.say(olga, "/balance")

    # A second order is billed but never paid: two days later Ivan is reminded, after the
    # third the order is closed as not paid (000)
    await take_phone_order(
        story, max_, "Ivan Petrov", "Когтеточка-столбик; 1; 1990", "post · free", "card"
    )
    # Ivan does not open its link: he shares his phone with Telegram's button in /my, and
    # the orders placed with his number come to him (a phone typed into an order proves
    # nothing; Telegram vouching for his own does)
    await story.say(ivan, "/my")
    story.emulator.share_contact(ivan.user)
    await story.settle()
    await story.say(max_, "/order 2")
    await story.tap(max_, None, about="#2", label=story.action(max_, "confirm"))
    billed = story.container.clock.now()
    await story.later(billed + timedelta(days=2))
    await story.later(billed + timedelta(days=3))
    unpaid = await story.container.orders.get(2, _system())
    assert unpaid.status == "not_paid", unpaid.status
    return render(
        story,
        [
            ("Olga (owner)", olga),
            ("Max (manager)", max_),
            ("Petr (packer)", petr),
            ("Staff group", group),
            ("Ivan (buyer)", ivan),
        ],
    )


async def platform_story(story: Story) -> str:
    olga, max_, petr, group = await open_shop(story, "Platform")
    ivan = story.person("Ivan", "ru")
    anna = story.person("Anna", "uk")
    token = await take_phone_order(
        story, max_, "Ivan Petrov", "Дубовый стул; 2; 1500", "carrier · free", "cash on delivery"
    )
    await story.start(ivan, token)
    # Opening the new order moves it to "requires agreement with the buyer" (003)
    await story.say(max_, "/order 1")
    await story.tap(max_, None, about="#1", label=story.action(max_, "confirm"))
    await story.say(petr, "/order 1")
    await story.tap(petr, None, about="#1", label=story.action(petr, "pack"))
    await story.say(petr, "/order 1")
    await story.tap(petr, None, about="#1", label=story.action(petr, "ship"))
    await story.tap(petr, None, "СДЭК")
    await story.say(petr, "1234567890")
    await story.say(max_, "/order 1")
    card = card_of(story, max_, 1)
    await story.tap(max_, card, story.action(max_, "deliver"))
    await story.tap(max_, card, story.t(max_, "✅ Yes"))
    # A second order cannot be fulfilled: the shop cancels it with a reason from the list
    token = await take_phone_order(
        story, max_, "Anna Kovalenko", "Книжкова полиця; 1; 7900", "courier · free", "card"
    )
    await story.start(anna, token)
    await story.say(max_, "/order 2")
    card = card_of(story, max_, 2)
    await story.tap(max_, card, story.action(max_, "cancel"))
    reason = story.workflow.reason("out_of_stock").title["en"]
    await story.tap(max_, card, reason)
    first = await story.container.orders.get(1, _system())
    second = await story.container.orders.get(2, _system())
    assert (first.status, second.status) == ("received", "cancelled"), (first, second)

    # A third order is taken but not agreed with the buyer within its limit, counted in
    # working hours (003): Olga and Max are alerted, and Olga finds it among the problems
    await take_phone_order(story, max_, "Ivan Petrov", "Табурет; 1; 2500", "carrier · free", "card")
    third = await story.container.orders.get(3, _system())
    await story.later(third.sla_deadline_at)
    await story.say(olga, "/problems")
    third = await story.container.orders.get(3, _system())
    assert third.problem, third
    return render(
        story,
        [
            ("Olga (owner)", olga),
            ("Max (manager)", max_),
            ("Petr (packer)", petr),
            ("Staff group", group),
            ("Ivan (buyer)", ivan),
            ("Anna (buyer)", anna),
        ],
    )


def _system():
    from services.orders.actors import ActorRef

    return ActorRef.system()


def render(story: Story, chats) -> str:
    parts = [
        f"Times are the shop's ({SHOP_ZONE}). ▶ marks a button someone tapped; a dashed "
        "line, time passing (the clock was moved forward, not waited for)."
    ]
    for title, chat in chats:
        parts.append(f"\n{'=' * 30} {title} {'=' * 30}\n")
        parts.append(story.transcript(chat))
    return "\n".join(parts)


def main(preset: str) -> int:
    if preset not in ("marketplace", "platform"):
        print(f"the demo plays 'marketplace' or 'platform', not {preset!r}", file=sys.stderr)
        return 2
    transcript = asyncio.run(play(preset))
    print(transcript)
    print(f"\nDemo '{preset}' finished: every step went through the bot.")
    return 0
