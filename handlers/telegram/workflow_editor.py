"""/settings -> "🗂 Statuses": the shop shapes its own workflow (issue 16).

The screens edit the shop's draft through WorkflowEditor (services/workflow/editing.py):
statuses in order with ⬆️/⬇️, ✏️ rename per language, 👤 responsible, ⏱ time limit, 🗑 retire,
➕ a new status put in the way between two others (for every order, or for one payment
method), its transitions; 👁 the pipeline as text; 💾 save (validated: the problems are listed,
as `python -m bot workflow validate` words them), then moving the open orders; the workflow as
a file, down and up. Callback data carries the shop's id, status codes and small numbers;
the service decides whether the tapper may edit (owner and admins).
"""

from __future__ import annotations

import io
from enum import StrEnum

from aiogram import Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, role_name, title
from handlers.telegram.onboarding import TYPED
from services.refusals import Reason, Refused
from services.shops.users import Person
from services.vocabulary import LANGUAGES, PAYMENT_METHODS, STAFF_ROLES
from services.workflow.changes import code_from, parse_limit
from services.workflow.editing import (
    MAX_FILE_BYTES,
    DraftView,
    WorkflowEditor,
    WorkflowProblems,
    dump_file,
    parse_file,
    problems_of,
)

NOBODY = "-"
ALL = "*"
MAX_TEXT = 3800  # below Telegram's 4096, with room for the header


class WfAct(StrEnum):
    LIST = "l"  # the statuses in order
    UP = "u"
    DOWN = "d"
    STATUS = "s"  # one status: its role, limit, transitions
    LANGS = "n"  # rename: which language
    RENAME = "r"  # rename in language x: typed
    ROLES = "p"  # who is responsible: the roles
    ROLE = "o"  # status s is worked by role x (NOBODY: nobody)
    LIMIT = "t"  # the time limit: typed
    RETIRE = "x"
    DROP = "y"  # remove transition number x
    ADD = "a"  # a new status: its name typed
    WAY = "i"  # put status s in the way: which step (x: a transition's number)
    PAY = "q"  # ...for which payment method (x: "number:method")
    PREVIEW = "w"
    SAVE = "v"
    MOVE = "m"  # move the open orders to the saved version
    MAP = "k"  # orders in the vanished status s go to the status number x
    DISCARD = "z"
    FILE = "f"  # download the workflow file
    UPLOAD = "g"  # send a file
    TIMER_DROP = "e"  # remove timer number x (of status s's screen)
    REASONS = "c"  # the cancellation reasons
    REASON_ADD = "b"  # a new reason: its name typed
    REASON_COMMENT = "h"  # reason s: a comment required, or not
    REASON_DROP = "j"  # remove reason s


class WfCB(CallbackData, prefix="wf"):
    act: WfAct
    shop: int
    s: str = ""  # a status code
    x: str = ""


class WorkflowEdit(StatesGroup):
    name = State()  # the new status's name
    rename = State()  # a status's name in one language
    limit = State()  # a status's time limit
    file = State()  # a workflow file to upload
    reason = State()  # a new cancellation reason's name


def cb(act: WfAct, shop: int, s: str = "", x: str = "") -> str:
    return WfCB(act=act, shop=shop, s=s, x=x).pack()


def entry_button(shop_id: int) -> InlineKeyboardButton:
    """The settings menu's way in."""
    return InlineKeyboardButton(text=_("🗂 Statuses"), callback_data=cb(WfAct.LIST, shop_id))


def back_to(shop_id: int, status: str = "") -> InlineKeyboardButton:
    act = WfAct.STATUS if status else WfAct.LIST
    return InlineKeyboardButton(text=_("↩️ Back"), callback_data=cb(act, shop_id, status))


def status_title(draft: DraftView, code: str, language: str) -> str:
    raw = next((s for s in draft.body.get("statuses", []) if s.get("code") == code), None)
    return title(raw.get("title") or {}, language) if raw else code


def limit_text(raw: dict) -> str:
    sla = raw.get("sla") or {}
    if not sla:
        return ""
    text = sla["acceptable"]
    if sla.get("excellent"):
        text = f"{sla['excellent']} / {text}"
    return text + (" " + _("round the clock") if sla.get("hours") == "calendar" else "")


def problems_text(problems: tuple[str, ...] | list[str]) -> str:
    shown = "\n".join(f"• {esc(p)}" for p in problems[:15])
    more = len(problems) - 15
    if more > 0:
        shown += "\n" + _("…and {count} more").format(count=more)
    return shown


def list_screen(draft: DraftView, language: str) -> tuple[str, InlineKeyboardMarkup]:
    shop_id = draft.shop_id
    state = (
        _("Unsaved changes.")
        if draft.changed
        else _("Version {version}, as new orders follow it.").format(version=draft.current_version)
    )
    lines = [_("🗂 <b>Statuses</b> in order. {state}").format(state=state)]
    if draft.changed and draft.problems:
        lines += ["", _("To fix before saving:"), problems_text(draft.problems)]
    builder = InlineKeyboardBuilder()
    for raw in draft.body.get("statuses", []):
        code = raw.get("code", "")
        builder.row(
            InlineKeyboardButton(
                text=title(raw.get("title") or {}, language),
                callback_data=cb(WfAct.STATUS, shop_id, code),
            ),
            InlineKeyboardButton(text="⬆️", callback_data=cb(WfAct.UP, shop_id, code)),
            InlineKeyboardButton(text="⬇️", callback_data=cb(WfAct.DOWN, shop_id, code)),
        )
    builder.row(
        InlineKeyboardButton(text=_("➕ Add a status"), callback_data=cb(WfAct.ADD, shop_id)),
        InlineKeyboardButton(text=_("👁 Preview"), callback_data=cb(WfAct.PREVIEW, shop_id)),
    )
    if draft.changed:
        builder.row(
            InlineKeyboardButton(text=_("💾 Save"), callback_data=cb(WfAct.SAVE, shop_id)),
            InlineKeyboardButton(
                text=_("✖️ Discard changes"), callback_data=cb(WfAct.DISCARD, shop_id)
            ),
        )
    builder.row(
        InlineKeyboardButton(
            text=_("🚫 Cancellation reasons"), callback_data=cb(WfAct.REASONS, shop_id)
        )
    )
    builder.row(
        InlineKeyboardButton(text=_("📥 Download file"), callback_data=cb(WfAct.FILE, shop_id)),
        InlineKeyboardButton(text=_("📤 Upload file"), callback_data=cb(WfAct.UPLOAD, shop_id)),
    )
    from handlers.telegram.shop_settings import back_button

    builder.row(back_button(shop_id))
    return "\n".join(lines), builder.as_markup()


def actors_text(raw: dict) -> str:
    actors = raw.get("actors") or []
    names = [
        role_name(a) if a in STAFF_ROLES else _("buyer") if a == "buyer" else _("automatically")
        for a in actors
    ]
    if raw.get("automatic"):
        names = [_("automatically")]
    return ", ".join(dict.fromkeys(names))


def guard_text(raw: dict) -> str:
    parts = []
    for spec in (raw.get("guards") or {}).values():
        if isinstance(spec, dict) and "not" in spec:
            parts.append(_("not {values}").format(values=", ".join(spec["not"])))
        else:
            parts.append(", ".join(spec if isinstance(spec, list) else [spec]))
    return "; ".join(parts)


def step_line(draft: DraftView, raw: dict, language: str) -> str:
    target = status_title(draft, raw.get("to", ""), language)
    name = title(raw.get("title") or {}, language)
    line = f"{esc(name)} → {esc(target)} ({esc(actors_text(raw))})"
    guards = guard_text(raw)
    return line + (f" [{esc(guards)}]" if guards else "")


def sources(raw: dict) -> list[str]:
    found = raw.get("from")
    return [found] if isinstance(found, str) else list(found or [])


def status_screen(draft: DraftView, code: str, language: str) -> tuple[str, InlineKeyboardMarkup]:
    shop_id = draft.shop_id
    raw = next((s for s in draft.body.get("statuses", []) if s.get("code") == code), None)
    if raw is None:
        raise Refused(Reason.NOT_FOUND, "no such status")
    role = role_name(raw["responsible"]) if raw.get("responsible") else _("nobody")
    lines = [
        f"<b>{esc(title(raw.get('title') or {}, language))}</b> ({esc(code)})",
        _("Responsible: {role}").format(role=role),
        _("Time limit: {limit}").format(limit=esc(limit_text(raw)) or _("none")),
        "",
        _("Ways out:"),
    ]
    builder = InlineKeyboardBuilder()
    steps = draft.body.get("transitions", [])
    outgoing = [(i, t) for i, t in enumerate(steps) if code in sources(t)]
    for index, step in outgoing:
        lines.append(f"{index + 1}. {step_line(draft, step, language)}")
        builder.row(
            InlineKeyboardButton(
                text=_("🗑 Remove way {number}").format(number=index + 1),
                callback_data=cb(WfAct.DROP, shop_id, code, str(index)),
            )
        )
    if not outgoing:
        lines.append(_("none (a final status)") if raw.get("kind", "").startswith("final") else "—")
    every_timer = enumerate(draft.body.get("timers") or [])
    timers = [(i, t) for i, t in every_timer if t.get("status") == code]
    if timers:
        lines += ["", _("Timers:")]
    for index, timer in timers:
        lines.append(f"{index + 1}. {esc(timer_text(draft, timer, language))}")
        builder.row(
            InlineKeyboardButton(
                text=_("🗑 Remove timer {number}").format(number=index + 1),
                callback_data=cb(WfAct.TIMER_DROP, shop_id, code, str(index)),
            )
        )
    builder.row(
        InlineKeyboardButton(text=_("✏️ Rename"), callback_data=cb(WfAct.LANGS, shop_id, code)),
        InlineKeyboardButton(
            text=_("👤 Responsible"), callback_data=cb(WfAct.ROLES, shop_id, code)
        ),
    )
    builder.row(
        InlineKeyboardButton(text=_("⏱ Time limit"), callback_data=cb(WfAct.LIMIT, shop_id, code)),
        InlineKeyboardButton(text=_("🗑 Retire"), callback_data=cb(WfAct.RETIRE, shop_id, code)),
    )
    if not any(code == t.get("to") for t in steps) and raw.get("kind") != "initial":
        builder.row(
            InlineKeyboardButton(
                text=_("➕ Put it in the way"), callback_data=cb(WfAct.WAY, shop_id, code)
            )
        )
    builder.row(back_to(shop_id))
    return "\n".join(lines), builder.as_markup()


def timer_text(draft: DraftView, timer: dict, language: str) -> str:
    after = str(timer.get("after", ""))
    if timer.get("kind") == "reminder":
        whom = _("the buyer") if timer.get("to") == "buyer" else _("the shop")
        return _("after {after}: remind {whom}").format(after=after, whom=whom)
    step = next(
        (t for t in draft.body.get("transitions", []) if t.get("code") == timer.get("action")),
        {},
    )
    name = title(step.get("title") or {}, language) or str(timer.get("action"))
    return _("after {after}: automatically «{step}»").format(after=after, step=name)


def preview_text(draft: DraftView, language: str) -> str:
    lines = [_("👁 <b>The pipeline</b>")]
    for raw in draft.body.get("statuses", []):
        code = raw.get("code", "")
        extra = []
        if raw.get("responsible"):
            extra.append(f"👤 {role_name(raw['responsible'])}")
        if raw.get("sla"):
            extra.append(f"⏱ {limit_text(raw)}")
        suffix = f" ({esc(', '.join(extra))})" if extra else ""
        lines.append(f"\n<b>{esc(title(raw.get('title') or {}, language))}</b>{suffix}")
        for step in draft.body.get("transitions", []):
            if code in sources(step):
                lines.append(f"  ↳ {step_line(draft, step, language)}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


# -- handlers --------------------------------------------------------------------------------


async def show_list(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    text, markup = list_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def move(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    delta = -1 if callback_data.act is WfAct.UP else 1
    try:
        draft = await workflow_editor.change(
            callback_data.shop, user.id, "move_status", callback_data.s, delta
        )
    except Refused as refusal:
        if refusal.params.get("field") != "position":
            raise
        callback_answer.text = _("It cannot move further.")
        return
    text, markup = list_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def show_status(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    text, markup = status_screen(draft, callback_data.s, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


LANGUAGE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}


async def choose_language(
    query: CallbackQuery, callback_data: WfCB, user: Person, workflow_editor: WorkflowEditor
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)  # owner and admins only
    builder = InlineKeyboardBuilder()
    for language in LANGUAGES:
        builder.button(
            text=LANGUAGE_NAMES[language],
            callback_data=cb(WfAct.RENAME, callback_data.shop, callback_data.s, language),
        )
    builder.adjust(3)
    builder.row(back_to(callback_data.shop, callback_data.s))
    await query.message.edit_text(
        _("The name in which language?"), reply_markup=builder.as_markup()
    )


async def ask_name(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    if callback_data.x not in LANGUAGES:
        raise Refused(Reason.INVALID, "no such language", {"field": "language"})
    await state.set_state(WorkflowEdit.rename)
    await state.update_data(
        shop_id=callback_data.shop, status=callback_data.s, lang=callback_data.x
    )
    await query.message.edit_text(
        _("Send the status's name in {language} (up to 64 characters).").format(
            language=LANGUAGE_NAMES[callback_data.x]
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[back_to(callback_data.shop, callback_data.s)]]
        ),
    )


async def name_typed(
    message: Message,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    shop_id, code = data["shop_id"], data["status"]
    try:
        draft = await workflow_editor.change(
            shop_id, user.id, "rename_status", code, data["lang"], message.text
        )
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        await message.answer(_("Not saved: a name of 1 to 64 characters is needed."))
        return
    await state.clear()
    text, markup = status_screen(draft, code, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


async def choose_role(
    query: CallbackQuery, callback_data: WfCB, user: Person, workflow_editor: WorkflowEditor
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    builder = InlineKeyboardBuilder()
    for role in (*STAFF_ROLES, NOBODY):
        builder.button(
            text=role_name(role) if role != NOBODY else _("nobody"),
            callback_data=cb(WfAct.ROLE, callback_data.shop, callback_data.s, role),
        )
    builder.adjust(2)
    builder.row(back_to(callback_data.shop, callback_data.s))
    await query.message.edit_text(
        _("Who works orders in this status? They get a ping when an order arrives."),
        reply_markup=builder.as_markup(),
    )


async def role_chosen(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    role = None if callback_data.x == NOBODY else callback_data.x
    draft = await workflow_editor.change(
        callback_data.shop, user.id, "set_responsible", callback_data.s, role
    )
    text, markup = status_screen(draft, callback_data.s, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


def limit_hint() -> str:
    return _(
        "Send the time limit: the acceptable time, or the excellent and the acceptable one, "
        "like «2h» or «30m 2h» (m, h, d). It counts in working hours; add «calendar» to count "
        "round the clock. Send «-» for no limit."
    )


async def ask_limit(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    await state.set_state(WorkflowEdit.limit)
    await state.update_data(shop_id=callback_data.shop, status=callback_data.s)
    await query.message.edit_text(
        limit_hint(),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[back_to(callback_data.shop, callback_data.s)]]
        ),
    )


async def limit_typed(
    message: Message,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    shop_id, code = data["shop_id"], data["status"]
    try:
        if message.text.strip() == "-":
            draft = await workflow_editor.change(shop_id, user.id, "set_limit", code, None)
        else:
            acceptable, excellent, hours = parse_limit(message.text)
            draft = await workflow_editor.change(
                shop_id, user.id, "set_limit", code, acceptable, excellent, hours
            )
    except (Refused, ValueError) as refusal:
        if isinstance(refusal, Refused) and refusal.code is not Reason.INVALID:
            raise
        await message.answer(
            _("Not saved: {problem}.").format(
                problem=esc(str(getattr(refusal, "message", refusal)))
            )
            + "\n\n"
            + limit_hint()
        )
        return
    await state.clear()
    text, markup = status_screen(draft, code, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


async def retire(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        draft = await workflow_editor.change(
            callback_data.shop, user.id, "retire_status", callback_data.s
        )
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        callback_answer.text = _("Not retired: orders still come here or leave from here.")
        callback_answer.show_alert = True
        return
    callback_answer.text = _("Retired. Save to make it so for new orders.")
    text, markup = list_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def drop_step(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    if not callback_data.x.isdigit():
        raise Refused(Reason.INVALID, "no such transition", {"field": "transition"})
    draft = await workflow_editor.change(
        callback_data.shop, user.id, "remove_transition", int(callback_data.x)
    )
    text, markup = status_screen(draft, callback_data.s, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def ask_new_status(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    await state.set_state(WorkflowEdit.name)
    await state.update_data(shop_id=callback_data.shop)
    await query.message.edit_text(
        _("Send the new status's name (up to 64 characters). You can translate it later."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(callback_data.shop)]]),
    )


async def new_status_typed(
    message: Message,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    draft = await workflow_editor.draft(shop_id, user.id)
    taken = {s.get("code") for s in draft.body.get("statuses", [])}
    code = code_from(message.text, taken)
    try:
        draft = await workflow_editor.change(
            shop_id, user.id, "add_status", code, {i18n.current_locale: message.text}
        )
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        await message.answer(_("Not saved: a name of 1 to 64 characters is needed."))
        return
    await state.clear()
    text, markup = way_screen(draft, code, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


def way_screen(draft: DraftView, code: str, language: str) -> tuple[str, InlineKeyboardMarkup]:
    """Between which two statuses the new one goes: each step between two others (a step is
    named in the button by its transition's number and source's position: ids, not codes)."""
    kinds = {s.get("code"): s.get("kind", "active") for s in draft.body.get("statuses", [])}
    builder = InlineKeyboardBuilder()
    seen = set()
    for index, step in enumerate(draft.body.get("transitions", [])):
        target = step.get("to")
        for position, source in enumerate(sources(step)):
            if (source, target) in seen or code in (source, target) or target not in kinds:
                continue
            if kinds[target] == "final_failure":
                continue  # a cancellation is not a stage's way
            seen.add((source, target))
            builder.row(
                InlineKeyboardButton(
                    text=f"{status_title(draft, source, language)} → "
                    f"{status_title(draft, target, language)}",
                    callback_data=cb(WfAct.PAY, draft.shop_id, code, f"{index}.{position}"),
                )
            )
    builder.row(back_to(draft.shop_id, code))
    return (
        _("«{status}»: between which statuses does it go? Orders will pass through it.").format(
            status=esc(status_title(draft, code, language))
        ),
        builder.as_markup(),
    )


def the_way(draft: DraftView, way: str) -> tuple[str, str]:
    """(from, to) of the step a button named "transition.position"."""
    index, _sep, position = way.partition(".")
    steps = draft.body.get("transitions", [])
    if not (index.isdigit() and position.isdigit() and int(index) < len(steps)):
        raise Refused(Reason.INVALID, "no such step", {"field": "transition"})
    step = steps[int(index)]
    found = sources(step)
    if int(position) >= len(found):
        raise Refused(Reason.INVALID, "no such step", {"field": "transition"})
    return found[int(position)], step.get("to", "")


async def choose_way(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    text, markup = way_screen(draft, callback_data.s, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


def payment_name(method: str) -> str:
    names = {
        "cash": _("cash"),
        "cash_on_delivery": _("cash on delivery"),
        "card": _("card"),
        "bank_transfer": _("bank transfer"),
        "online": _("online"),
    }
    return names.get(method, method)


async def choose_payment(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    """Which orders take the new stage: all, or those paid one way (seed 001)."""
    shop_id, code = callback_data.shop, callback_data.s
    way, _sep, method = callback_data.x.partition("-")
    draft = await workflow_editor.draft(shop_id, user.id)
    before, after = the_way(draft, way)
    if method:
        if method != ALL and not (method.isdigit() and int(method) < len(PAYMENT_METHODS)):
            raise Refused(Reason.INVALID, "no such payment method", {"field": "guards"})
        methods = None if method == ALL else [PAYMENT_METHODS[int(method)]]
        draft = await workflow_editor.change(
            shop_id, user.id, "insert_between", code, before, after, payment_methods=methods
        )
        text, markup = status_screen(draft, code, i18n.current_locale)
        await query.message.edit_text(text, reply_markup=markup)
        return
    builder = InlineKeyboardBuilder()
    builder.button(text=_("All orders"), callback_data=cb(WfAct.PAY, shop_id, code, f"{way}-{ALL}"))
    for number, name in enumerate(PAYMENT_METHODS):
        builder.button(
            text=_("Only paid by {method}").format(method=payment_name(name)),
            callback_data=cb(WfAct.PAY, shop_id, code, f"{way}-{number}"),
        )
    builder.adjust(1)
    builder.row(back_to(shop_id, code))
    await query.message.edit_text(
        _("Which orders go through it?"), reply_markup=builder.as_markup()
    )


async def preview(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    await query.message.edit_text(
        preview_text(draft, i18n.current_locale),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(callback_data.shop)]]),
    )


async def save(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    callback_answer: CallbackAnswer,
) -> None:
    shop_id = callback_data.shop
    try:
        saved = await workflow_editor.save(shop_id, user.id)
    except WorkflowProblems as problems:
        await query.message.edit_text(
            _("Not saved: the workflow has problems to fix first.")
            + "\n"
            + problems_text(problems.problems),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(shop_id)]]),
        )
        return
    callback_answer.text = _("Saved.")
    text, markup = saved_screen(shop_id, saved.version, saved.moves)
    await query.message.edit_text(text, reply_markup=markup)


def saved_screen(shop_id: int, version: int, moves) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("✅ Saved as version {version}: new orders follow it.").format(version=version)]
    builder = InlineKeyboardBuilder()
    if moves.total:
        lines.append(
            _("Open orders keeping the version they started with: {count}.").format(
                count=moves.total
            )
        )
        if moves.vanished:
            lines.append(
                _(
                    "Some are in statuses this version no longer has ({statuses}): say where "
                    "they go when you move them."
                ).format(statuses=esc(", ".join(sorted(moves.vanished))))
            )
        builder.row(
            InlineKeyboardButton(
                text=_("➡️ Move open orders to version {version}").format(version=version),
                callback_data=cb(WfAct.MOVE, shop_id, x=str(version)),
            )
        )
    builder.row(back_to(shop_id))
    return "\n".join(lines), builder.as_markup()


async def move_orders(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    """Move the open orders; first ask where each status the new version lacks goes."""
    shop_id = callback_data.shop
    data = await state.get_data()
    mapping = data.get("mapping", {}) if data.get("moving") == shop_id else {}
    plan = await workflow_editor.move_plan(shop_id, user.id, mapping)
    if plan.vanished:
        await state.update_data(moving=shop_id, mapping=mapping)
        await ask_mapping(query, workflow_editor, shop_id, user, sorted(plan.vanished)[0], i18n)
        return
    await state.update_data(moving=None, mapping={})
    moved = await workflow_editor.move_open_orders(shop_id, user.id, mapping)
    await query.message.edit_text(
        _("➡️ Open orders moved to the new version: {count}.").format(count=moved),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(shop_id)]]),
    )


async def ask_mapping(
    query: CallbackQuery,
    workflow_editor: WorkflowEditor,
    shop_id: int,
    user: Person,
    status: str,
    i18n: I18n,
) -> None:
    _version, body = await workflow_editor.export(shop_id, user.id)
    builder = InlineKeyboardBuilder()
    for index, raw in enumerate(body.get("statuses", [])):
        if str(raw.get("kind", "active")).startswith("final"):
            continue  # open orders go to open statuses
        builder.row(
            InlineKeyboardButton(
                text=title(raw.get("title") or {}, i18n.current_locale),
                callback_data=cb(WfAct.MAP, shop_id, status, str(index)),
            )
        )
    builder.row(back_to(shop_id))
    await query.message.edit_text(
        _("Where do the open orders in «{status}» go? This version has no such status.").format(
            status=esc(status)
        ),
        reply_markup=builder.as_markup(),
    )


async def mapping_chosen(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    shop_id = callback_data.shop
    _version, body = await workflow_editor.export(shop_id, user.id)
    listed = body.get("statuses", [])
    if not (callback_data.x.isdigit() and int(callback_data.x) < len(listed)):
        raise Refused(Reason.INVALID, "no such status", {"field": "mapping"})
    data = await state.get_data()
    mapping = dict(data.get("mapping", {})) if data.get("moving") == shop_id else {}
    mapping[callback_data.s] = listed[int(callback_data.x)].get("code", "")
    await state.update_data(moving=shop_id, mapping=mapping)
    await move_orders(query, callback_data, user, workflow_editor, state, i18n)


async def discard(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    await workflow_editor.discard(callback_data.shop, user.id)
    callback_answer.text = _("Changes discarded.")
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    text, markup = list_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def download(
    query: CallbackQuery, callback_data: WfCB, user: Person, workflow_editor: WorkflowEditor
) -> None:
    version, body = await workflow_editor.export(callback_data.shop, user.id)
    await query.message.answer_document(
        BufferedInputFile(dump_file(body).encode("utf-8"), filename=f"workflow-v{version}.yaml"),
        caption=_("Version {version}. Edit it and send it back to me as a file.").format(
            version=version
        ),
    )


async def ask_file(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    await state.set_state(WorkflowEdit.file)
    await state.update_data(shop_id=callback_data.shop)
    await query.message.edit_text(
        _("Send the workflow file (YAML or JSON, up to {size} KB).").format(
            size=MAX_FILE_BYTES // 1024
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(callback_data.shop)]]),
    )


async def file_sent(
    message: Message,
    bot: Bot,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    document = message.document
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await message.answer(
            _("Not installed: the file is larger than {size} KB.").format(
                size=MAX_FILE_BYTES // 1024
            )
        )
        return
    buffer = io.BytesIO()
    await bot.download(document, destination=buffer)
    try:
        body = parse_file(buffer.getvalue(), document.file_name or "")
    except WorkflowProblems as problems:
        await message.answer(
            _("Not installed: the file cannot be read.") + "\n" + problems_text(problems.problems)
        )
        return
    _workflow, problems = problems_of(body)
    if problems:  # refused as a whole: the draft stays as it was
        await message.answer(
            _("Not installed: the workflow has problems to fix first.")
            + "\n"
            + problems_text(problems),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to(shop_id)]]),
        )
        return
    draft = await workflow_editor.replace(shop_id, user.id, body)
    await state.clear()
    await message.answer(
        preview_text(draft, i18n.current_locale),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("✅ Install"), callback_data=cb(WfAct.SAVE, shop_id)
                    ),
                    InlineKeyboardButton(
                        text=_("✖️ Discard changes"), callback_data=cb(WfAct.DISCARD, shop_id)
                    ),
                ]
            ]
        ),
    )


async def drop_timer(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    timers = draft.body.get("timers") or []
    if not (callback_data.x.isdigit() and int(callback_data.x) < len(timers)):
        raise Refused(Reason.INVALID, "no such timer", {"field": "timer"})
    draft = await workflow_editor.change(
        callback_data.shop, user.id, "remove_timer", timers[int(callback_data.x)].get("code")
    )
    text, markup = status_screen(draft, callback_data.s, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


def reasons_screen(draft: DraftView, language: str) -> tuple[str, InlineKeyboardMarkup]:
    shop_id = draft.shop_id
    lines = [_("🚫 <b>Cancellation reasons</b>. ✍️: a comment is required with it.")]
    builder = InlineKeyboardBuilder()
    for raw in draft.body.get("cancel_reasons") or []:
        code = raw.get("code", "")
        name = title(raw.get("title") or {}, language)
        mark = " ✍️" if raw.get("comment_required") else ""
        lines.append(f"• {esc(name)}{mark}")
        builder.row(
            InlineKeyboardButton(
                text=f"✍️ {name}", callback_data=cb(WfAct.REASON_COMMENT, shop_id, code)
            ),
            InlineKeyboardButton(
                text=f"🗑 {name}", callback_data=cb(WfAct.REASON_DROP, shop_id, code)
            ),
        )
    builder.row(
        InlineKeyboardButton(text=_("➕ Add a reason"), callback_data=cb(WfAct.REASON_ADD, shop_id))
    )
    builder.row(back_to(shop_id))
    return "\n".join(lines), builder.as_markup()


async def show_reasons(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    draft = await workflow_editor.draft(callback_data.shop, user.id)
    text, markup = reasons_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def reason_changed(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    i18n: I18n,
) -> None:
    shop_id, code = callback_data.shop, callback_data.s
    if callback_data.act is WfAct.REASON_DROP:
        draft = await workflow_editor.change(shop_id, user.id, "remove_reason", code)
    else:
        draft = await workflow_editor.draft(shop_id, user.id)
        raw = next((r for r in draft.body.get("cancel_reasons") or [] if r.get("code") == code), {})
        required = not raw.get("comment_required", False)
        draft = await workflow_editor.change(shop_id, user.id, "set_reason_comment", code, required)
    text, markup = reasons_screen(draft, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def ask_reason(
    query: CallbackQuery,
    callback_data: WfCB,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
) -> None:
    await workflow_editor.draft(callback_data.shop, user.id)
    await state.set_state(WorkflowEdit.reason)
    await state.update_data(shop_id=callback_data.shop)
    await query.message.edit_text(
        _("Send the new reason's name (up to 64 characters). Staff will offer it on cancelling."),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("↩️ Back"), callback_data=cb(WfAct.REASONS, callback_data.shop)
                    )
                ]
            ]
        ),
    )


async def reason_typed(
    message: Message,
    user: Person,
    workflow_editor: WorkflowEditor,
    state: FSMContext,
    i18n: I18n,
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    draft = await workflow_editor.draft(shop_id, user.id)
    taken = {r.get("code") for r in draft.body.get("cancel_reasons") or []}
    code = code_from(message.text, taken)
    try:
        draft = await workflow_editor.change(
            shop_id, user.id, "add_reason", code, {i18n.current_locale: message.text}
        )
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        await message.answer(_("Not saved: a name of 1 to 64 characters is needed."))
        return
    await state.clear()
    text, markup = reasons_screen(draft, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


def router() -> Router:
    router = Router(name=__name__)
    on = router.callback_query.register
    on(show_list, WfCB.filter(F.act == WfAct.LIST))
    on(move, WfCB.filter(F.act.in_({WfAct.UP, WfAct.DOWN})))
    on(show_status, WfCB.filter(F.act == WfAct.STATUS))
    on(choose_language, WfCB.filter(F.act == WfAct.LANGS))
    on(ask_name, WfCB.filter(F.act == WfAct.RENAME))
    on(choose_role, WfCB.filter(F.act == WfAct.ROLES))
    on(role_chosen, WfCB.filter(F.act == WfAct.ROLE))
    on(ask_limit, WfCB.filter(F.act == WfAct.LIMIT))
    on(retire, WfCB.filter(F.act == WfAct.RETIRE))
    on(drop_step, WfCB.filter(F.act == WfAct.DROP))
    on(ask_new_status, WfCB.filter(F.act == WfAct.ADD))
    on(choose_way, WfCB.filter(F.act == WfAct.WAY))
    on(choose_payment, WfCB.filter(F.act == WfAct.PAY))
    on(preview, WfCB.filter(F.act == WfAct.PREVIEW))
    on(save, WfCB.filter(F.act == WfAct.SAVE))
    on(move_orders, WfCB.filter(F.act == WfAct.MOVE))
    on(mapping_chosen, WfCB.filter(F.act == WfAct.MAP))
    on(discard, WfCB.filter(F.act == WfAct.DISCARD))
    on(download, WfCB.filter(F.act == WfAct.FILE))
    on(ask_file, WfCB.filter(F.act == WfAct.UPLOAD))
    on(drop_timer, WfCB.filter(F.act == WfAct.TIMER_DROP))
    on(show_reasons, WfCB.filter(F.act == WfAct.REASONS))
    on(reason_changed, WfCB.filter(F.act.in_({WfAct.REASON_COMMENT, WfAct.REASON_DROP})))
    on(ask_reason, WfCB.filter(F.act == WfAct.REASON_ADD))
    router.message.register(reason_typed, WorkflowEdit.reason, TYPED)
    router.message.register(name_typed, WorkflowEdit.rename, TYPED)
    router.message.register(limit_typed, WorkflowEdit.limit, TYPED)
    router.message.register(new_status_typed, WorkflowEdit.name, TYPED)
    router.message.register(file_sent, WorkflowEdit.file, F.document)
    return router
