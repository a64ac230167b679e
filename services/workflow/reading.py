"""Reading a workflow definition (A1) from a mapping: a YAML preset file, a shop's own file,
or the JSON stored in the database. Validation collects every problem it finds and names
each one exactly, as `python -m bot workflow validate` prints them (docs/workflow-format.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from services.vocabulary import (
    AVAILABILITIES,
    DELIVERY_METHODS,
    LANGUAGES,
    PAYMENT_METHODS,
    STAFF_ROLES,
)
from services.workflow.definition import (
    CARRIER_EVENTS,
    CODE_PATTERN,
    EDIT_KINDS,
    ActorKind,
    Audience,
    CancelReason,
    CarrierReaction,
    Effect,
    Guard,
    Input,
    Sla,
    Status,
    StatusKind,
    Timer,
    TimerKind,
    Transition,
    Workflow,
    WorkflowError,
    parse_duration,
)

# The top-level keys of a definition, in one place. This reader reads CORE_KEYS;
# EXTENSION_KEYS belong to other features, which read them from `Workflow.source` (e.g.
# `on_carrier`: carrier events -> actions). Both pass through editing untouched; any other
# key is a problem (a typo must not be silently ignored).
CORE_KEYS = frozenset(
    {"code", "title", "statuses", "transitions", "timers", "cancel_reasons", "split_reasons"}
    | {"editing"}
)
EXTENSION_KEYS = frozenset({"on_carrier"})

# Sizes past any real shop's workflow: a bigger definition is a mistake, or an attack.
MAX_ITEMS = {
    "statuses": 100,
    "transitions": 500,
    "timers": 200,
    "cancel_reasons": 50,
    "split_reasons": 50,
}


def load_workflow(data: Mapping[str, Any]) -> Workflow:
    """Validate a definition and build the Workflow, or raise WorkflowError."""
    return _Reader(data).read()


class _Reader:
    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.problems: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}" if where else text)

    def read(self) -> Workflow:
        if not isinstance(self.data, Mapping):
            raise WorkflowError(["the definition must be a mapping"])
        for key in self.data:
            if key not in CORE_KEYS | EXTENSION_KEYS:
                self.problem("", f"unknown field '{key}'")
        code = self.code(self.data.get("code"), "code")
        title = self.title(self.data.get("title"), "title")
        statuses = [s for i, raw in enumerate(self.items("statuses")) if (s := self.status(raw, i))]
        status_codes = [s.code for s in statuses]
        self.unique(status_codes, "statuses", "status code")
        known = set(status_codes)
        reasons = self.reasons("cancel_reasons", known)
        split_reasons = self.reasons("split_reasons", known)
        transitions = [
            t
            for i, raw in enumerate(self.items("transitions"))
            if (t := self.transition(raw, i, known, bool(reasons)))
        ]
        timers = [t for i, raw in enumerate(self.items("timers")) if (t := self.timer(raw, i))]
        editing = self.editing(known)
        workflow = Workflow(
            code=code or "",
            title=title,
            statuses=tuple(statuses),
            transitions=tuple(transitions),
            timers=tuple(timers),
            cancel_reasons=tuple(reasons),
            split_reasons=tuple(split_reasons),
            editing=editing,
            on_carrier=self.on_carrier(),
            source=self.data,
        )
        self.check_graph(workflow)
        self.check_timers(workflow)
        self.check_on_carrier(workflow)
        if self.problems:
            raise WorkflowError(self.problems)
        return workflow

    # -- pieces -----------------------------------------------------------------

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        limit = MAX_ITEMS.get(key)
        if limit is not None and len(value) > limit:
            self.problem(key, f"too many ({len(value)}): at most {limit}")
            return []
        return value

    def code(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not CODE_PATTERN.match(value):
            self.problem(where, f"bad code {value!r}: use lower-case latin letters, digits and _")
            return None
        return value

    def title(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, Mapping):
            self.problem(where, "a title needs a text per language (ru, uk, en)")
            return {}
        for language in LANGUAGES:
            text = value.get(language)
            if not isinstance(text, str) or not text.strip():
                self.problem(where, f"missing translation '{language}'")
        for language in value:
            if language not in LANGUAGES:
                self.problem(where, f"unknown language '{language}'")
        return {k: str(v) for k, v in value.items()}

    def flags(self, raw: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(where, f"unknown field '{key}'")

    def duration(self, value: Any, where: str) -> timedelta | None:
        try:
            return parse_duration(value)
        except ValueError as error:
            self.problem(where, str(error))
            return None

    def status(self, raw: Any, index: int) -> Status | None:
        where = f"statuses[{index}]"
        if not isinstance(raw, Mapping):
            self.problem(where, "must be a mapping")
            return None
        code = self.code(raw.get("code"), where)
        where = f"status '{code or index}'"
        self.flags(raw, where, {"code", "kind", "title", "responsible", "buyer_visible", "sla"})
        try:
            kind = StatusKind(raw.get("kind", "active"))
        except ValueError:
            self.problem(where, f"unknown kind {raw.get('kind')!r}")
            kind = StatusKind.ACTIVE
        responsible = raw.get("responsible")
        if responsible is not None and responsible not in STAFF_ROLES:
            self.problem(where, f"unknown role '{responsible}'")
        sla = None
        if raw.get("sla") is not None:
            sla_raw = raw["sla"]
            if not isinstance(sla_raw, Mapping) or "acceptable" not in sla_raw:
                self.problem(where, "sla needs at least 'acceptable'")
            else:
                self.flags(sla_raw, f"{where} sla", {"excellent", "acceptable", "hours"})
                hours = sla_raw.get("hours", "business")
                if hours not in ("business", "calendar"):
                    self.problem(where, f"sla.hours {hours!r}: use business or calendar")
                acceptable = self.duration(sla_raw["acceptable"], f"{where} sla.acceptable")
                excellent = (
                    self.duration(sla_raw["excellent"], f"{where} sla.excellent")
                    if sla_raw.get("excellent") is not None
                    else None
                )
                if acceptable and excellent and excellent > acceptable:
                    self.problem(where, "sla.excellent is longer than sla.acceptable")
                if acceptable:
                    sla = Sla(excellent, acceptable, calendar=hours == "calendar")
            if kind.is_final:
                self.problem(where, "a final status cannot have an sla")
        if code is None:
            return None
        return Status(
            code=code,
            kind=kind,
            title=self.title(raw.get("title"), where),
            responsible=responsible,
            buyer_visible=bool(raw.get("buyer_visible", True)),
            sla=sla,
        )

    def guards(self, raw: Any, where: str) -> tuple[Guard, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.problem(where, "guards must be a mapping")
            return ()
        vocabularies = {
            "payment_method": PAYMENT_METHODS,
            "delivery_method": DELIVERY_METHODS,
            "availability": AVAILABILITIES,
        }
        guards = []
        for name, spec in raw.items():
            if name not in vocabularies:
                self.problem(where, f"unknown guard '{name}'")
                continue
            negate = isinstance(spec, Mapping) and "not" in spec
            values = spec["not"] if negate else spec
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not values:
                self.problem(where, f"guard '{name}' needs a list of values or {{not: [...]}}")
                continue
            for value in values:
                if value not in vocabularies[name]:
                    self.problem(where, f"guard '{name}': unknown value '{value}'")
            guards.append(Guard(field=name, values=frozenset(values), negate=negate))
        return tuple(guards)

    def transition(
        self, raw: Any, index: int, known: set[str], has_reasons: bool
    ) -> Transition | None:
        where = f"transitions[{index}]"
        if not isinstance(raw, Mapping):
            self.problem(where, "must be a mapping")
            return None
        code = self.code(raw.get("code"), where)
        where = f"transitions[{index}] '{code}'"
        self.flags(
            raw,
            where,
            {
                "code",
                "from",
                "to",
                "title",
                "actors",
                "guards",
                "inputs",
                "effects",
                "confirm",
                "automatic",
                "on_open",
            },
        )
        sources = raw.get("from")
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not sources:
            self.problem(where, "'from' needs a status or a list of statuses")
            sources = []
        for source in sources:
            if source not in known:
                self.problem(where, f"unknown status '{source}'")
        target = raw.get("to")
        if target not in known:
            self.problem(where, f"unknown status '{target}'")
        actors = raw.get("actors", [])
        if isinstance(actors, str):
            actors = [actors]
        staff_roles: set[str] = set()
        buyer = system = False
        for actor in actors if isinstance(actors, list) else []:
            if actor == ActorKind.BUYER:
                buyer = True
            elif actor == ActorKind.SYSTEM:
                system = True
            elif actor in STAFF_ROLES:
                staff_roles.add(actor)
            else:
                self.problem(where, f"unknown actor '{actor}'")
        automatic = bool(raw.get("automatic", False))
        on_open = bool(raw.get("on_open", False))
        if automatic:
            system = True
        if not (staff_roles or buyer or system):
            self.problem(where, "nobody may perform it: list its actors")
        inputs = []
        for name in raw.get("inputs", []) or []:
            try:
                inputs.append(Input(name))
            except ValueError:
                self.problem(where, f"unknown input '{name}'")
        if Input.REASON in inputs and not has_reasons:
            self.problem(where, "asks for a reason but the workflow has no cancel_reasons")
        if automatic and inputs:
            self.problem(where, "an automatic transition cannot ask for inputs")
        effects = []
        for name in raw.get("effects", []) or []:
            try:
                effects.append(Effect(name))
            except ValueError:
                self.problem(where, f"unknown effect '{name}'")
        if code is None:
            return None
        return Transition(
            code=code,
            sources=tuple(sources),
            target=str(target),
            title=self.title(raw.get("title"), where),
            staff_roles=frozenset(staff_roles),
            buyer=buyer,
            system=system,
            guards=self.guards(raw.get("guards"), where),
            inputs=tuple(inputs),
            effects=tuple(effects),
            confirm=bool(raw.get("confirm", False)),
            automatic=automatic,
            on_open=on_open,
        )

    def reasons(self, key: str, known: set[str]) -> list[CancelReason]:
        reasons = []
        for index, raw in enumerate(self.items(key)):
            where = f"{key}[{index}]"
            if not isinstance(raw, Mapping):
                self.problem(where, "must be a mapping")
                continue
            code = self.code(raw.get("code"), where)
            where = f"{key} '{code}'"
            self.flags(
                raw, where, {"code", "title", "actors", "statuses", "comment_required", "effects"}
            )
            effects = []
            for name in raw.get("effects", []) or []:
                try:
                    effects.append(Effect(name))
                except ValueError:
                    self.problem(where, f"unknown effect '{name}'")
            actors = raw.get("actors", ["staff"])
            for actor in actors:
                # A reason for the system alone (e.g. an expired time limit) lists
                # only `system`: nobody picks it from the buttons.
                if actor not in (ActorKind.STAFF, ActorKind.BUYER, ActorKind.SYSTEM):
                    self.problem(where, f"unknown actor '{actor}': use staff, buyer or system")
            statuses = raw.get("statuses")
            if statuses is not None:
                for status in statuses:
                    if status not in known:
                        self.problem(where, f"unknown status '{status}'")
            if code is None:
                continue
            reasons.append(
                CancelReason(
                    code=code,
                    title=self.title(raw.get("title"), where),
                    staff=ActorKind.STAFF in actors,
                    buyer=ActorKind.BUYER in actors,
                    statuses=frozenset(statuses) if statuses is not None else None,
                    comment_required=bool(raw.get("comment_required", False)),
                    effects=tuple(effects),
                )
            )
        self.unique([r.code for r in reasons], key, "reason code")
        return reasons

    def timer(self, raw: Any, index: int) -> Timer | None:
        where = f"timers[{index}]"
        if not isinstance(raw, Mapping):
            self.problem(where, "must be a mapping")
            return None
        code = self.code(raw.get("code"), where)
        where = f"timer '{code or index}'"
        self.flags(
            raw, where, {"code", "status", "after", "kind", "action", "to", "message", "hours"}
        )
        try:
            kind = TimerKind(raw.get("kind"))
        except ValueError:
            self.problem(where, f"unknown kind {raw.get('kind')!r}: use transition or reminder")
            return None
        after = self.duration(raw.get("after"), where)
        hours = raw.get("hours", "calendar")
        if hours not in ("business", "calendar"):
            self.problem(where, f"hours {hours!r}: use business or calendar")
        to = None
        if kind is TimerKind.REMINDER:
            try:
                to = Audience(raw.get("to"))
            except ValueError:
                self.problem(where, f"a reminder goes 'to' buyer or shop, not {raw.get('to')!r}")
            if not isinstance(raw.get("message"), str):
                self.problem(where, "a reminder needs a 'message'")
        elif not isinstance(raw.get("action"), str):
            self.problem(where, "a transition timer needs an 'action'")
        if code is None or after is None:
            return None
        return Timer(
            code=code,
            status=str(raw.get("status")),
            after=after,
            kind=kind,
            action=raw.get("action"),
            to=to,
            message=raw.get("message"),
            business=hours == "business",
        )

    def editing(self, known: set[str]) -> dict[str, frozenset[str]]:
        raw = self.data.get("editing") or {}
        if not isinstance(raw, Mapping):
            self.problem("editing", "must be a mapping of edit kind to statuses")
            return {}
        editing = {}
        for kind, statuses in raw.items():
            if kind not in EDIT_KINDS:
                self.problem(
                    "editing", f"unknown edit '{kind}': use one of {', '.join(EDIT_KINDS)}"
                )
                continue
            for status in statuses or []:
                if status not in known:
                    self.problem(f"editing.{kind}", f"unknown status '{status}'")
            editing[kind] = frozenset(statuses or [])
        return editing

    def on_carrier(self) -> dict[str, CarrierReaction]:
        """`on_carrier: {delivered: deliver, refused: {action: cancel, reason: ...},
        returned_to_sender: {tell: shop}}`; an action may be a list, tried in order."""
        raw = self.data.get("on_carrier") or {}
        if not isinstance(raw, Mapping):
            self.problem("on_carrier", "must be a mapping of carrier event to action")
            return {}
        reactions = {}
        for kind, spec in raw.items():
            where = f"on_carrier.{kind}"
            if kind not in CARRIER_EVENTS:
                known = ", ".join(CARRIER_EVENTS)
                self.problem(where, f"unknown carrier event; use one of {known}")
                continue
            if isinstance(spec, str | list):
                spec = {"action": spec}
            if not isinstance(spec, Mapping):
                self.problem(where, "an action, a list of actions, or {action, reason, tell}")
                continue
            self.flags(spec, where, {"action", "reason", "tell"})
            actions = spec.get("action") or []
            if isinstance(actions, str):
                actions = [actions]
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                self.problem(where, "'action' needs an action code or a list of them")
                actions = []
            tell = spec.get("tell")
            if tell is not None and tell != Audience.SHOP:
                self.problem(where, f"'tell' may only be 'shop', not {tell!r}")
            reason = spec.get("reason")
            if reason is not None and not isinstance(reason, str):
                self.problem(where, "'reason' needs a cancel reason's code")
                reason = None
            if not actions and tell is None:
                self.problem(where, "needs an 'action' or 'tell: shop'")
            reactions[kind] = CarrierReaction(tuple(actions), reason, tell == Audience.SHOP)
        return reactions

    def check_on_carrier(self, workflow: Workflow) -> None:
        for kind, reaction in workflow.on_carrier.items():
            where = f"on_carrier.{kind}"
            for action in reaction.actions:
                matching = [t for t in workflow.transitions if t.code == action]
                if not matching:
                    self.problem(where, f"unknown action '{action}'")
                elif not any(t.system for t in matching):
                    self.problem(where, f"transition '{action}' does not allow the system")
                elif any(t.is_cancellation for t in matching) and reaction.reason is None:
                    self.problem(where, f"'{action}' asks for a reason: give 'reason'")
            if reaction.reason is not None and workflow.reason(reaction.reason) is None:
                self.problem(where, f"unknown cancel reason '{reaction.reason}'")

    def unique(self, codes: list[str], where: str, what: str) -> None:
        seen: set[str] = set()
        for code in codes:
            if code in seen:
                self.problem(where, f"duplicate {what} '{code}'")
            seen.add(code)

    # -- whole-graph checks -------------------------------------------------------

    def check_graph(self, workflow: Workflow) -> None:
        initial = [s for s in workflow.statuses if s.kind is StatusKind.INITIAL]
        if len(initial) != 1:
            self.problem("statuses", f"exactly one initial status is needed, found {len(initial)}")
        by_code = {s.code: s for s in workflow.statuses}
        seen_keys: set[tuple[str, str, tuple[Guard, ...]]] = set()
        for transition in workflow.transitions:
            for source in transition.sources:
                status = by_code.get(source)
                if status and status.is_final:
                    self.problem(
                        f"transition '{transition.code}'",
                        f"leaves the final status '{source}'",
                    )
                key = (transition.code, source, tuple(sorted(transition.guards, key=repr)))
                if key in seen_keys:
                    self.problem(
                        f"transition '{transition.code}'",
                        f"duplicate transition from '{source}' with the same guards",
                    )
                seen_keys.add(key)
            if transition.on_open and transition.buyer:
                self.problem(f"transition '{transition.code}'", "on_open is taken by staff only")
        if len(initial) != 1:
            return
        reachable = {initial[0].code}
        queue = deque(reachable)
        while queue:
            current = queue.popleft()
            for transition in workflow.transitions_from(current):
                if transition.target not in reachable:
                    reachable.add(transition.target)
                    queue.append(transition.target)
        for status in workflow.statuses:
            if status.code not in reachable:
                self.problem(f"status '{status.code}'", "unreachable from the initial status")
            elif not status.is_final and not workflow.transitions_from(status.code):
                self.problem(f"status '{status.code}'", "is not final but has no way out")

    def check_timers(self, workflow: Workflow) -> None:
        self.unique([t.code for t in workflow.timers], "timers", "timer code")
        known = {s.code for s in workflow.statuses}
        for timer in workflow.timers:
            where = f"timer '{timer.code}'"
            if timer.status not in known:
                self.problem(where, f"unknown status '{timer.status}'")
                continue
            if workflow.status(timer.status).is_final:
                self.problem(where, f"runs in the final status '{timer.status}'")
            if timer.kind is TimerKind.TRANSITION:
                matching = [
                    t for t in workflow.transitions_from(timer.status) if t.code == timer.action
                ]
                if not matching:
                    self.problem(
                        where,
                        f"no transition '{timer.action}' out of '{timer.status}'",
                    )
                elif not any(t.system for t in matching):
                    self.problem(where, f"transition '{timer.action}' does not allow the system")
