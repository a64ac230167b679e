"""A shop's settings (C1) and who works which status (C2), changed by its owner and admins.

Every setting arrives as the text a person typed; it is checked here, once, so the bot, the
command line and any future API refuse the same values with the same message.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import holidays
from babel import Locale
from babel.numbers import get_territory_currencies
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.email.invoice import INVOICE_PDF_SETTING
from services.money.ledger import terms
from services.operations.personal_data import RETENTION_SETTING, parse_retention
from services.orders.drafts import MAX_PRICE
from services.orders.money import to_minor
from services.refusals import Reason, Refused, invalid
from services.shops.staff import require_staff, require_supervisor
from services.storefront.tokens import forget_shop_tokens
from services.time.clock import Clock
from services.vocabulary import DELIVERY_METHODS, LANGUAGES, STAFF_ROLES, SUPERVISOR_ROLES
from services.workflow.definition import Workflow, WorkflowError
from services.workflow.presets import PRESETS, preset_data
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Shop, WorkflowChange, WorkflowDefinition, WorkflowDraft

# What `update` accepts, in the order a settings screen lists them.
FIELDS = (
    "name",
    "email",
    "timezone",
    "country",
    "currency",
    "language",
    "working_hours",
    "days_off",
    "preset",
    "sla_auto_cancel",
    "delivery_price",
    "commission_kind",
    "commission_percent",
    "late_cancel_fee",
    "personal_data_retention",
    "email_invoice_pdf",
)

# -- working hours -------------------------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKDAYS = DAYS[:5]  # hours given without days mean the working week
# People type days in the language they speak to the bot.
_DAY_NAMES = {
    **{day: day for day in DAYS},
    **dict(
        zip(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            DAYS,
            strict=True,
        )
    ),
    **dict(zip(("пн", "вт", "ср", "чт", "пт", "сб", "вс"), DAYS, strict=True)),
    "нд": "sun",  # Ukrainian Sunday; the other Ukrainian abbreviations match the Russian ones
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_EXAMPLE = "write e.g. 'mon-fri 09:00-20:00, sat 10:00-16:00, sun off'"


def parse_working_hours(text: str) -> dict[str, list[str]]:
    """'mon-fri 09:00-20:00, sat 10:00-16:00' -> {"mon": ["09:00", "20:00"], ...}.

    Hours without days ('09:00-20:00') are Monday to Friday. A day not mentioned is a day
    off; 'sun off' says so explicitly. A later part overrides an earlier one, so
    'mon-sun 10:00-18:00, sun off' works. Shifts past midnight are not supported: the end
    must come after the start on the same day. Raises ValueError naming the problem.
    """
    hours: dict[str, list[str]] = {}
    # One dash for all the dashes people type, and no spaces around it.
    normalized = re.sub(r"\s*[-–—]\s*", "-", text.strip().lower())
    parts = [part.strip() for part in re.split(r"[,;\n]", normalized)]
    if not any(parts):
        raise ValueError(f"no working hours given: {_EXAMPLE}")
    for part in filter(None, parts):
        words = part.split()
        if len(words) == 1:
            days, spec = WORKDAYS, words[0]
        elif len(words) == 2:
            days, spec = _days(words[0]), words[1]
        else:
            raise ValueError(f"cannot read '{part}': {_EXAMPLE}")
        if spec in ("off", "closed", "выходной", "вихідний"):
            for day in days:
                hours.pop(day, None)
            continue
        start, sep, end = spec.partition("-")
        if not sep:
            raise ValueError(f"cannot read '{part}': {_EXAMPLE}")
        start, end = _time(start), _time(end)
        if end <= start:
            raise ValueError(f"'{part}': the end of the day must come after its start")
        for day in days:
            hours[day] = [start, end]
    if not hours:
        raise ValueError("at least one working day is needed")
    return {day: hours[day] for day in DAYS if day in hours}


def format_working_hours(hours: dict[str, Any]) -> str:
    """The inverse of parse_working_hours: runs of days with equal hours share one part."""
    parts: list[str] = []
    run: list[str] = []
    for day in (*DAYS, None):
        if run and (day is None or hours.get(day) != hours.get(run[0])):
            if hours.get(run[0]):
                days = run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}"
                parts.append(f"{days} {hours[run[0]][0]}-{hours[run[0]][1]}")
            run = []
        if day is not None:
            run.append(day)
    return ", ".join(parts)


def _days(text: str) -> tuple[str, ...]:
    first, sep, last = text.partition("-")
    start = _day(first)
    end = _day(last) if sep else start
    if DAYS.index(end) < DAYS.index(start):
        raise ValueError(f"'{text}': a range of days runs forward, e.g. mon-fri")
    return DAYS[DAYS.index(start) : DAYS.index(end) + 1]


def _day(text: str) -> str:
    day = _DAY_NAMES.get(text)
    if day is None:
        raise ValueError(f"unknown day '{text}': use mon, tue, wed, thu, fri, sat, sun")
    return day


def _time(text: str) -> str:
    match = _TIME.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"bad time '{text}': use HH:MM from 00:00 to 23:59")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


# -- other values --------------------------------------------------------------------------


def parse_days_off(text: str) -> list[str]:
    """'2026-12-31, 2027-01-02' -> sorted unique ISO dates; an empty text clears them."""
    days = set()
    for part in filter(None, (p.strip() for p in re.split(r"[,;\s]+", text))):
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"not a date: '{part}': use YYYY-MM-DD") from None
        if len(part) != 10:  # fromisoformat also reads 20261231; people meant a date
            raise ValueError(f"not a date: '{part}': use YYYY-MM-DD")
    return [day.isoformat() for day in sorted(days)]


@lru_cache(maxsize=4)
def currencies_in_use(day: date) -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere on `day` (not the Soviet rouble)."""
    codes: set[str] = set()
    for territory in Locale("en").territories:
        codes.update(get_territory_currencies(territory, start_date=day, tender=True))
    return frozenset(codes)


@lru_cache(maxsize=1)
def shop_countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes with a public holiday calendar (B2: SLAs skip holidays)."""
    iso = {code for code in Locale("en").territories if re.fullmatch(r"[A-Z]{2}", code)}
    return frozenset(iso & set(holidays.list_supported_countries()))


@lru_cache(maxsize=1)
def _time_zones() -> dict[str, str]:
    """IANA names by their lower case: 'europe/moscow' is what people type on phones."""
    return {name.lower(): name for name in available_timezones()}


_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_SWITCHES = {"on": True, "off": False, "yes": True, "no": False, "true": True, "false": False}


@dataclass(frozen=True)
class ShopView:
    """A shop's settings as one staff member sees them."""

    shop: Shop
    roles: frozenset[str]  # the viewer's
    workflow: Workflow  # the current version: what new orders start on
    workflow_version: int

    @property
    def can_edit(self) -> bool:
        return bool(self.roles & SUPERVISOR_ROLES)

    @property
    def working_hours_text(self) -> str:
        return format_working_hours(self.shop.working_hours or {})


class ShopSettingsService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def get(self, shop_id: int, user_id: int) -> ShopView:
        async with reading(self._sessions) as session:
            roles = await require_staff(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
            definition = await self._workflows.current(session, shop_id)
            workflow = await self._workflows.get(session, definition.id)
            return ShopView(shop, roles, workflow, definition.version)

    async def update(self, shop_id: int, user_id: int, field: str, value: str) -> Shop:
        """Set one setting from the text typed for it; owner and admins only."""
        async with self._sessions() as session, session.begin():
            shop = await self._editable(session, shop_id, user_id)
            value = (value or "").strip()
            if field == "preset":
                saved = await self._switch_preset(session, shop, value)
                if saved is not None:
                    self._log(session, shop_id, user_id, "preset", saved, preset=value)
            elif field in _SETTERS:
                try:
                    _SETTERS[field](self, shop, value)
                except ValueError as error:
                    raise invalid(field, str(error)) from None
            else:
                raise invalid(field, f"unknown setting '{field}': use one of {', '.join(FIELDS)}")
        if field in ("currency", "language"):  # what the storefront API reads with the token
            forget_shop_tokens(self._sessions, shop_id)
        return shop

    async def switch_preset(
        self, shop_id: int, user_id: int, code: str, *, discard_edits: bool = False
    ) -> Shop:
        """Start new orders on a preset. When the shop's workflow has its own edits (it is
        not exactly the preset it came from), only with `discard_edits`: refused otherwise,
        with params["edits"], so the person is asked first (issue 16)."""
        async with self._sessions() as session, session.begin():
            shop = await self._editable(session, shop_id, user_id)
            saved = await self._switch_preset(
                session, shop, code.strip(), discard_edits=discard_edits
            )
            if saved is not None:
                self._log(session, shop_id, user_id, "preset", saved, preset=code.strip())
            return shop

    async def set_responsible(
        self, shop_id: int, user_id: int, status: str, role: str | None
    ) -> Workflow:
        """Who works orders in `status` from now on (None: nobody in particular).

        A new workflow version: orders already under way keep the one they started with.
        """
        async with self._sessions() as session, session.begin():
            await self._editable(session, shop_id, user_id)
            if role is not None and role not in STAFF_ROLES:
                raise invalid("role", f"unknown role '{role}': use one of {', '.join(STAFF_ROLES)}")
            definition = await self._workflows.current(session, shop_id)
            body = copy.deepcopy(definition.body)
            raw = next((s for s in body.get("statuses", []) if s.get("code") == status), None)
            if raw is None:
                raise invalid("status", f"the shop's workflow has no status '{status}'")
            if raw.get("responsible") == role:
                return await self._workflows.get(session, definition.id)
            if role is None:
                raw.pop("responsible", None)
            else:
                raw["responsible"] = role
            saved = await self._save_workflow(session, shop_id, body)
            await _carry_draft(session, shop_id, definition.id, saved.id, status, role)
            self._log(session, shop_id, user_id, "set_responsible", saved, status=status, role=role)
            return await self._workflows.get(session, saved.id)

    async def bind_staff_chat(self, shop_id: int, user_id: int, chat_id: int) -> Shop:
        """The group chat where the shop's staff get new-order pings."""
        if not isinstance(chat_id, int) or isinstance(chat_id, bool) or chat_id == 0:
            raise invalid("chat_id", "not a Telegram chat id")
        async with self._sessions() as session, session.begin():
            shop = await self._editable(session, shop_id, user_id)
            shop.staff_chat_id = chat_id
            return shop

    async def unbind_staff_chat(self, shop_id: int, user_id: int) -> Shop:
        async with self._sessions() as session, session.begin():
            shop = await self._editable(session, shop_id, user_id)
            shop.staff_chat_id = None
            return shop

    # -- the pieces ------------------------------------------------------------------------

    async def _editable(self, session: AsyncSession, shop_id: int, user_id: int) -> Shop:
        await require_supervisor(session, shop_id, user_id)
        # Locked: settings is one JSON value read, changed and written back, and workflow
        # versions are numbered max + 1; two edits at once must not overwrite each other.
        shop = await session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise Refused(Reason.NOT_FOUND, "no such shop")
        return shop

    async def _save_workflow(self, session: AsyncSession, shop_id: int, body: dict[str, Any]):
        try:
            return await self._workflows.save_version(session, shop_id, body, self._clock.now())
        except WorkflowError as error:
            raise invalid("workflow", str(error)) from None

    async def _switch_preset(
        self, session: AsyncSession, shop: Shop, code: str, *, discard_edits: bool = False
    ) -> WorkflowDefinition | None:
        """A new workflow version from the preset; existing orders keep their versions."""
        if code not in PRESETS:
            raise invalid("preset", f"unknown preset '{code}': use one of {', '.join(PRESETS)}")
        body = preset_data(code)
        current = await self._workflows.current(session, shop.id)
        if current.body == body:
            return None  # already exactly this preset: a new version would change nothing
        own = shop.workflow_code not in PRESETS or current.body != preset_data(shop.workflow_code)
        if own and not discard_edits:
            raise Refused(
                Reason.INVALID,
                "the shop's workflow has its own edits: switching to a preset discards them",
                {"field": "preset", "edits": True},
            )
        saved = await self._save_workflow(session, shop.id, body)
        shop.workflow_code = code
        return saved

    def _log(
        self,
        session: AsyncSession,
        shop_id: int,
        user_id: int,
        action: str,
        saved: WorkflowDefinition,
        **details: Any,
    ) -> None:
        """The shop's workflow log (issue 16) records these versions too."""
        session.add(
            WorkflowChange(
                shop_id=shop_id,
                user_id=user_id,
                created_at=self._clock.now(),
                action=action,
                details={**details, "version": saved.version},
                definition_id=saved.id,
            )
        )

    def _set_name(self, shop: Shop, value: str) -> None:
        if not value or len(value) > 128:
            raise ValueError("a shop name of 1 to 128 characters is needed")
        shop.name = value

    def _set_email(self, shop: Shop, value: str) -> None:
        if value and (len(value) > 254 or not _EMAIL.match(value)):
            raise ValueError(f"not an e-mail address: '{value}'")
        shop.email = value or None

    def _set_timezone(self, shop: Shop, value: str) -> None:
        name = _time_zones().get(value.lower())
        if name is None:
            raise ValueError(f"unknown time zone '{value}': use a name like Europe/Moscow")
        ZoneInfo(name)  # the business-hours clock will need it loadable, not just listed
        shop.timezone = name

    def _set_country(self, shop: Shop, value: str) -> None:
        code = value.upper()
        if code not in shop_countries():
            raise ValueError(
                f"unknown country '{value}': use a two-letter ISO code with a holiday "
                "calendar, like RU or UA"
            )
        shop.country = code

    def _set_currency(self, shop: Shop, value: str) -> None:
        code = value.upper()
        if code not in currencies_in_use(self._clock.now().date()):
            raise ValueError(f"unknown currency '{value}': use an ISO 4217 code like RUB")
        shop.currency = code

    def _set_language(self, shop: Shop, value: str) -> None:
        if value.lower() not in LANGUAGES:
            raise ValueError(f"unknown language '{value}': use one of {', '.join(LANGUAGES)}")
        shop.language = value.lower()

    def _set_working_hours(self, shop: Shop, value: str) -> None:
        shop.working_hours = parse_working_hours(value)

    def _set_days_off(self, shop: Shop, value: str) -> None:
        shop.days_off = parse_days_off(value)

    def _set_sla_auto_cancel(self, shop: Shop, value: str) -> None:
        switch = _SWITCHES.get(value.lower())
        if switch is None:
            raise ValueError("use on or off")
        # A new dict, not an in-place change: SQLAlchemy sees JSON changes by assignment.
        shop.settings = {**(shop.settings or {}), "sla_auto_cancel": switch}

    def _set_delivery_price(self, shop: Shop, value: str) -> None:
        method, _, amount = value.partition(" ")
        method, amount = method.lower(), amount.strip()
        if method not in DELIVERY_METHODS:
            raise ValueError(
                f"unknown delivery method '{method}': use one of {', '.join(DELIVERY_METHODS)}"
            )
        if "," in amount and "." not in amount:
            amount = amount.replace(",", ".")  # "350,50": the decimal comma of ru and uk
        try:
            price = to_minor(amount, shop.currency)
        except ValueError:
            price = -1
        if not 0 <= price <= MAX_PRICE:
            raise ValueError(
                f"not a price: '{amount}': write the method and an amount, e.g. courier 350.00"
            )
        settings = dict(shop.settings or {})
        settings["delivery_prices"] = {**settings.get("delivery_prices", {}), method: price}
        shop.settings = settings

    def _set_commission_kind(self, shop: Shop, value: str) -> None:
        shop.settings = {**(shop.settings or {}), terms.KIND_SETTING: terms.parse_kind(value)}

    def _set_commission_percent(self, shop: Shop, value: str) -> None:
        percent = terms.parse_percent(value)
        shop.settings = {**(shop.settings or {}), terms.PERCENT_SETTING: percent}

    def _set_late_cancel_fee(self, shop: Shop, value: str) -> None:
        switch = _SWITCHES.get(value.lower())
        if switch is None:
            raise ValueError("use on or off")
        shop.settings = {**(shop.settings or {}), terms.LATE_FEE_SETTING: switch}

    def _set_email_invoice_pdf(self, shop: Shop, value: str) -> None:
        # Off: the e-mails' invoice link is the invoice (services.messaging.email.invoice).
        switch = _SWITCHES.get(value.lower())
        if switch is None:
            raise ValueError("use on or off")
        shop.settings = {**(shop.settings or {}), INVOICE_PDF_SETTING: switch}

    def _set_personal_data_retention(self, shop: Shop, value: str) -> None:
        # Closed orders' buyer data is erased this many days after (services/operations).
        shop.settings = {**(shop.settings or {}), RETENTION_SETTING: parse_retention(value)}


_SETTERS = {
    "name": ShopSettingsService._set_name,
    "email": ShopSettingsService._set_email,
    "timezone": ShopSettingsService._set_timezone,
    "country": ShopSettingsService._set_country,
    "currency": ShopSettingsService._set_currency,
    "language": ShopSettingsService._set_language,
    "working_hours": ShopSettingsService._set_working_hours,
    "days_off": ShopSettingsService._set_days_off,
    "sla_auto_cancel": ShopSettingsService._set_sla_auto_cancel,
    "email_invoice_pdf": ShopSettingsService._set_email_invoice_pdf,
    "delivery_price": ShopSettingsService._set_delivery_price,
    "commission_kind": ShopSettingsService._set_commission_kind,
    "commission_percent": ShopSettingsService._set_commission_percent,
    "late_cancel_fee": ShopSettingsService._set_late_cancel_fee,
    "personal_data_retention": ShopSettingsService._set_personal_data_retention,
}


async def _carry_draft(
    session: AsyncSession, shop_id: int, old_id: int, new_id: int, status: str, role: str | None
) -> None:
    """A draft of the shop's workflow (/settings → Statuses) started from the version just
    replaced gets the same responsible role and moves onto the new version, instead of
    being dropped as stale at its next edit."""
    draft = await session.get(WorkflowDraft, shop_id)
    if draft is None or draft.base_id != old_id:
        return
    body = copy.deepcopy(draft.body)
    raw = next((s for s in body.get("statuses", []) if s.get("code") == status), None)
    if raw is not None:
        if role is None:
            raw.pop("responsible", None)
        else:
            raw["responsible"] = role
    draft.body, draft.base_id = body, new_id
