"""Edits of a workflow draft: pure functions on the definition's mapping (the file format).

The draft is the very mapping a workflow file holds (docs/workflow-format.md), so an edit
made with buttons and one made in a file are the same thing, and keys this module does not
know (extensions other features read) travel along untouched. Each function checks what it
can say at once (a duplicate code, an unknown status) and raises DraftError; whether the
whole is a valid workflow is for services/workflow/reading.py to say when the draft is saved.
"""

from __future__ import annotations

import copy
from typing import Any

from services.vocabulary import DELIVERY_METHODS, LANGUAGES, PAYMENT_METHODS, STAFF_ROLES
from services.workflow.definition import CODE_PATTERN, EDIT_KINDS, Input, StatusKind, parse_duration

Body = dict[str, Any]
ACTORS = (*STAFF_ROLES, "buyer", "system")
GUARDS = {"payment_method": PAYMENT_METHODS, "delivery_method": DELIVERY_METHODS}
SLA_HOURS = ("business", "calendar")


class DraftError(ValueError):
    """An edit that cannot be made; `field` names what was wrong."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


# -- statuses --------------------------------------------------------------------------------


def statuses(body: Body) -> list[dict[str, Any]]:
    return body.setdefault("statuses", [])


def status(body: Body, code: str) -> dict[str, Any]:
    found = next((s for s in statuses(body) if s.get("code") == code), None)
    if found is None:
        raise DraftError("status", f"unknown status '{code}'")
    return found


def check_code(code: str) -> str:
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise DraftError("code", f"bad code {code!r}: use lower-case latin letters, digits and _")
    return code


def full_title(title: dict[str, str]) -> dict[str, str]:
    """A title in every language; one given in fewer languages is copied to the others,
    to be translated later (rename per language)."""
    given = {k: str(v).strip() for k, v in title.items() if k in LANGUAGES and str(v).strip()}
    if not given:
        raise DraftError("title", "a title needs a text")
    for text in given.values():
        check_title(text)
    fallback = next(iter(given.values()))
    return {language: given.get(language, fallback) for language in LANGUAGES}


def check_title(text: str) -> str:
    text = text.strip()
    if not text or len(text) > 64:
        raise DraftError("title", "a title of 1 to 64 characters is needed")
    return text


def add_status(
    body: Body,
    code: str,
    title: dict[str, str],
    *,
    kind: str = "active",
    after: str | None = None,
    responsible: str | None = None,
    buyer_visible: bool = True,
) -> None:
    """A new status, placed after `after` (default: before the first final status)."""
    check_code(code)
    if any(s.get("code") == code for s in statuses(body)):
        raise DraftError("code", f"duplicate status code '{code}'")
    if kind not in (StatusKind.ACTIVE, StatusKind.FINAL_SUCCESS, StatusKind.FINAL_FAILURE):
        raise DraftError("kind", f"unknown kind {kind!r}")
    if responsible is not None and responsible not in STAFF_ROLES:
        raise DraftError("responsible", f"unknown role '{responsible}'")
    raw: dict[str, Any] = {"code": code, "kind": kind, "title": full_title(title)}
    if responsible:
        raw["responsible"] = responsible
    if not buyer_visible:
        raw["buyer_visible"] = False
    listed = statuses(body)
    if after is not None:
        position = listed.index(status(body, after)) + 1
    else:
        position = next(
            (i for i, s in enumerate(listed) if StatusKind(s.get("kind", "active")).is_final),
            len(listed),
        )
    listed.insert(position, raw)


def rename_status(body: Body, code: str, language: str, text: str) -> None:
    if language not in LANGUAGES:
        raise DraftError("language", f"unknown language '{language}'")
    status(body, code).setdefault("title", {})[language] = check_title(text)


def move_status(body: Body, code: str, delta: int) -> None:
    """Up (-1) or down (+1) in the list: the order statuses are shown in."""
    listed = statuses(body)
    index = listed.index(status(body, code))
    target = index + delta
    if not 0 <= target < len(listed):
        raise DraftError("position", f"'{code}' cannot move further")
    listed[index], listed[target] = listed[target], listed[index]


def place_status(body: Body, code: str, position: int) -> None:
    """Put a status at `position` in the list (a drag in the Mini App, seed 002); the others
    keep their order around it."""
    listed = statuses(body)
    raw = status(body, code)
    if isinstance(position, bool) or not isinstance(position, int):
        raise DraftError("position", "a position in the list")
    if not 0 <= position < len(listed):
        raise DraftError("position", f"'{code}' cannot move further")
    listed.remove(raw)
    listed.insert(position, raw)


def retire_status(body: Body, code: str) -> None:
    """Remove a status no transition needs; its timers, limits and edit rules go with it."""
    raw = status(body, code)
    if raw.get("kind") == StatusKind.INITIAL:
        raise DraftError("status", f"'{code}' is the initial status: every order starts there")
    users = [t.get("code") for t in transitions(body) if code in _sources(t) or t.get("to") == code]
    if users:
        names = ", ".join(f"'{c}'" for c in dict.fromkeys(users))
        raise DraftError(
            "status", f"'{code}' is used by the transitions {names}: remove them first"
        )
    statuses(body).remove(raw)
    body["timers"] = [t for t in body.get("timers") or [] if t.get("status") != code]
    for key in ("cancel_reasons", "split_reasons"):
        for reason in body.get(key) or []:
            if isinstance(reason.get("statuses"), list) and code in reason["statuses"]:
                reason["statuses"] = [s for s in reason["statuses"] if s != code]
    editing = body.get("editing") or {}
    for kind in EDIT_KINDS:
        if isinstance(editing.get(kind), list):
            editing[kind] = [s for s in editing[kind] if s != code]


def set_responsible(body: Body, code: str, role: str | None) -> None:
    raw = status(body, code)
    if role is None:
        raw.pop("responsible", None)
        return
    if role not in STAFF_ROLES:
        raise DraftError("responsible", f"unknown role '{role}'")
    raw["responsible"] = role


def set_buyer_visible(body: Body, code: str, visible: bool) -> None:
    raw = status(body, code)
    if visible:
        raw.pop("buyer_visible", None)
    else:
        raw["buyer_visible"] = False


def set_limit(
    body: Body,
    code: str,
    acceptable: str | None,
    excellent: str | None = None,
    hours: str = "business",
) -> None:
    """The status's time limits; `acceptable` None removes them."""
    raw = status(body, code)
    if acceptable is None:
        raw.pop("sla", None)
        return
    if StatusKind(raw.get("kind", "active")).is_final:
        raise DraftError("sla", f"'{code}' is final: an order does not wait there")
    if hours not in SLA_HOURS:
        raise DraftError("hours", f"sla.hours {hours!r}: use business or calendar")
    limit = _duration(acceptable, "acceptable")
    sla: dict[str, Any] = {"acceptable": acceptable}
    if excellent is not None:
        if _duration(excellent, "excellent") > limit:
            raise DraftError("excellent", "sla.excellent is longer than sla.acceptable")
        sla["excellent"] = excellent
    if hours != "business":
        sla["hours"] = hours
    raw["sla"] = sla


def parse_limit(text: str) -> tuple[str, str | None, str]:
    """'2h' | '30m 2h' | '2h calendar' -> (acceptable, excellent, hours), as staff type it."""
    words = text.lower().replace(",", " ").split()
    hours = "business"
    if words and words[-1] in SLA_HOURS:
        hours = words.pop()
    if len(words) == 1:
        _duration(words[0], "acceptable")
        return words[0], None, hours
    if len(words) == 2:
        _duration(words[0], "excellent")
        _duration(words[1], "acceptable")
        return words[1], words[0], hours
    raise DraftError("sla", "send one or two durations, like '2h' or '30m 2h'")


def _duration(text: str, field: str):
    try:
        return parse_duration(text)
    except ValueError as error:
        raise DraftError(field, str(error)) from None


# -- transitions -----------------------------------------------------------------------------


def transitions(body: Body) -> list[dict[str, Any]]:
    return body.setdefault("transitions", [])


def _sources(raw: dict[str, Any]) -> list[str]:
    sources = raw.get("from")
    return [sources] if isinstance(sources, str) else list(sources or [])


def add_transition(
    body: Body,
    code: str,
    sources: list[str],
    target: str,
    actors: list[str],
    *,
    title: dict[str, str] | None = None,
    confirm: bool = False,
    inputs: list[str] | None = None,
    guards: dict[str, list[str]] | None = None,
) -> int:
    """A transition; returns its index. A code the workflow has already keeps its title
    unless another is given (one action, several paths told apart by guards)."""
    check_code(code)
    if not sources:
        raise DraftError("from", "'from' needs a status or a list of statuses")
    for name in (*sources, target):
        status(body, name)
    if not actors:
        raise DraftError("actors", "nobody may perform it: list its actors")
    for actor in actors:
        if actor not in ACTORS:
            raise DraftError("actors", f"unknown actor '{actor}'")
    for name in inputs or []:
        if name not in tuple(Input):
            raise DraftError("inputs", f"unknown input '{name}'")
    for field, values in (guards or {}).items():
        if field not in GUARDS:
            raise DraftError("guards", f"unknown guard '{field}'")
        for value in values:
            if value not in GUARDS[field]:
                raise DraftError("guards", f"guard '{field}': unknown value '{value}'")
    same = next((t for t in transitions(body) if t.get("code") == code), None)
    if title is None:
        if same is None:
            title = dict(status(body, target).get("title") or {})
        else:
            title = dict(same.get("title") or {})
    raw: dict[str, Any] = {
        "code": code,
        "from": sources[0] if len(sources) == 1 else list(sources),
        "to": target,
        "actors": list(actors),
        "title": full_title(title),
    }
    if confirm:
        raw["confirm"] = True
    if inputs:
        raw["inputs"] = list(inputs)
    if guards:
        raw["guards"] = {field: list(values) for field, values in guards.items()}
    transitions(body).append(raw)
    return len(transitions(body)) - 1


def remove_transition(body: Body, index: int) -> dict[str, Any]:
    listed = transitions(body)
    if not 0 <= index < len(listed):
        raise DraftError("transition", f"no transition number {index}")
    return listed.pop(index)


def redirect_transition(body: Body, index: int, target: str) -> None:
    """Point a transition at another status (a new stage put in its way)."""
    listed = transitions(body)
    if not 0 <= index < len(listed):
        raise DraftError("transition", f"no transition number {index}")
    status(body, target)
    listed[index]["to"] = target


def insert_between(
    body: Body,
    code: str,
    before: str,
    after: str,
    *,
    actors: list[str] | None = None,
    payment_methods: list[str] | None = None,
) -> str:
    """Put status `code` in the way from `before` to `after` (seed 001: a new stage in the
    pipeline); returns the code of the new step into it.

    A new transition leads from `before` into `code`; the steps that went from `before` to
    `after` are now taken from `code`, with their inputs and effects (a track code is still
    asked when the parcel leaves). With `payment_methods`, only those orders take the new
    stage: the others keep the old way, guarded by the other payment methods.
    """
    status(body, code)
    listed = transitions(body)
    led = [t for t in listed if before in _sources(t) and t.get("to") == after]
    if not led:
        raise DraftError("status", f"no transition leads from '{before}' to '{after}'")
    if payment_methods is not None:
        for value in payment_methods:
            if value not in PAYMENT_METHODS:
                raise DraftError("guards", f"guard 'payment_method': unknown value '{value}'")
        if any("payment_method" in (t.get("guards") or {}) for t in led):
            raise DraftError(
                "guards", "that step depends on the payment method already: edit it in the file"
            )
    entry_actors = (
        actors
        or sorted({a for t in led if not t.get("automatic") for a in t.get("actors") or []})
        or ["manager"]
    )
    for old in led:
        onward = copy.deepcopy(old)
        onward["from"] = code
        onward.pop("automatic", None)
        if old.get("automatic"):
            onward["actors"] = entry_actors
        listed.append(onward)
        rest = [s for s in _sources(old) if s != before]
        if payment_methods is None:
            if rest:
                old["from"] = rest if len(rest) > 1 else rest[0]
            else:
                listed.remove(old)
        else:
            # The old way stays for the orders the new stage is not for.
            if rest:
                old["from"] = rest if len(rest) > 1 else rest[0]
                kept = copy.deepcopy(old)
                kept["from"] = before
                listed.append(kept)
            else:
                kept = old
            others = [m for m in PAYMENT_METHODS if m not in payment_methods]
            kept.setdefault("guards", {})["payment_method"] = {"not": list(payment_methods)}
            if not others:
                listed.remove(kept)
    entry = f"to_{code}"[:40]
    taken = {t.get("code") for t in listed}
    if entry in taken:
        raise DraftError("code", f"duplicate transition code '{entry}'")
    add_transition(
        body,
        entry,
        [before],
        code,
        entry_actors,
        guards={"payment_method": list(payment_methods)} if payment_methods else None,
    )
    _follow_timers(body, code, before, {t.get("code") for t in led}, entry, entry_actors)
    return entry


def _follow_timers(
    body: Body, code: str, before: str, moved: set[str], entry: str, entry_actors: list[str]
) -> None:
    """A timer in `before` that took a step now taken from `code` (auto-receive after 35
    days) runs in `code` too; in `before` it takes the step into `code` where the system may,
    else it moves to `code` altogether."""
    leaving = {t.get("code") for t in transitions(body) if before in _sources(t)}
    timers = body.get("timers") or []
    for timer in list(timers):
        if timer.get("status") != before or timer.get("action") not in moved:
            continue
        if timer["action"] in leaving:
            continue  # the old way stays for other orders: the timer still has its step
        onward = {**timer, "code": f"{timer['code']}_{code}"[:40], "status": code}
        if "system" in entry_actors:
            timer["action"] = entry
            timers.append(onward)
        else:
            timer.update(status=code)


# -- timers and cancellation reasons ----------------------------------------------------------


def add_timer(
    body: Body,
    code: str,
    on_status: str,
    after: str,
    *,
    action: str | None = None,
    to: str | None = None,
    message: str | None = None,
    business: bool = False,
) -> None:
    """After `after` in `on_status` (in the shop's business hours if `business`): the system
    takes `action`, or reminds `to` (buyer/shop)."""
    check_code(code)
    timers = body.setdefault("timers", [])
    if any(t.get("code") == code for t in timers):
        raise DraftError("code", f"duplicate timer code '{code}'")
    status(body, on_status)
    _duration(after, "after")
    raw: dict[str, Any] = {"code": code, "status": on_status, "after": after}
    if business:
        raw["hours"] = "business"
    if action is not None:
        raw.update(kind="transition", action=action)
    elif to in ("buyer", "shop") and message:
        raw.update(kind="reminder", to=to, message=message)
    else:
        raise DraftError("timer", "a timer takes an action, or reminds the buyer or the shop")
    timers.append(raw)


def remove_timer(body: Body, code: str) -> None:
    timers = body.get("timers") or []
    kept = [t for t in timers if t.get("code") != code]
    if len(kept) == len(timers):
        raise DraftError("timer", f"unknown timer '{code}'")
    body["timers"] = kept


def add_reason(
    body: Body,
    code: str,
    title: dict[str, str],
    *,
    actors: tuple[str, ...] = ("staff",),
    comment_required: bool = False,
) -> None:
    check_code(code)
    reasons = body.setdefault("cancel_reasons", [])
    if any(r.get("code") == code for r in reasons):
        raise DraftError("code", f"duplicate reason code '{code}'")
    for actor in actors:
        if actor not in ("staff", "buyer", "system"):
            raise DraftError("actors", f"unknown actor '{actor}': use staff, buyer or system")
    raw: dict[str, Any] = {"code": code, "actors": list(actors), "title": full_title(title)}
    if comment_required:
        raw["comment_required"] = True
    reasons.append(raw)


def set_reason_comment(body: Body, code: str, required: bool) -> None:
    raw = next((r for r in body.get("cancel_reasons") or [] if r.get("code") == code), None)
    if raw is None:
        raise DraftError("reason", f"unknown reason '{code}'")
    if required:
        raw["comment_required"] = True
    else:
        raw.pop("comment_required", None)


def remove_reason(body: Body, code: str) -> None:
    reasons = body.get("cancel_reasons") or []
    kept = [r for r in reasons if r.get("code") != code]
    if len(kept) == len(reasons):
        raise DraftError("reason", f"unknown reason '{code}'")
    body["cancel_reasons"] = kept


def code_from(text: str, taken: set[str]) -> str:
    """A status code for a title typed in any language: its latin letters, else 'stage'."""
    table = str.maketrans(
        {
            **dict(zip("абвгдеёзийклмнопрстуфхыэ", "abvgdeezijklmnoprstufhye", strict=True)),
            "ж": "zh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ю": "yu", "я": "ya",
            "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ь": "", "ъ": "",
        }
    )  # fmt: skip
    spelled = text.lower().translate(table)
    latin = "".join(c if c.isascii() and c.isalnum() else "_" for c in spelled)
    base = "_".join(part for part in latin.split("_") if part)[:32] or "stage"
    if not base[0].isalpha():
        base = f"s_{base}"[:32]
    code, n = base, 2
    while code in taken:
        code, n = f"{base}_{n}", n + 1
    return code
