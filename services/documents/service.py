"""Documents of an order (E1-E3) and the shop's templates for them.

Orders are read through OrderService, so whoever may see the order's card may have its
invoice; the waybill is the shop's paper and only its staff get it. Templates are edited by
the shop's owner and admins: an upload is checked (syntax, names, the sandbox) and rendered
on a sample order before it may be saved; saving makes a new version, and the previous one
can be restored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from services.documents.defaults import KINDS, TITLES, default_template, file_name
from services.documents.pool import RenderPool, shared_pool
from services.documents.requisites import check_inn, check_kpp, check_vat
from services.documents.sandbox import TemplateProblem
from services.documents.variables import (
    BANK_KEYS,
    BANK_SETTING,
    document_variables,
    has_bank_details,
    sample_order,
)
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import Reason, Refused, invalid
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES
from services.workflow.definition import Workflow
from services.workflow.reading import load_workflow
from storage.database import reading
from storage.models import DocumentTemplate, Order, Shop, WorkflowDefinition

log = logging.getLogger(__name__)

# What a buyer may have of their own order; the waybill is the shop's.
BUYER_KINDS = frozenset({"invoice", "payment_slip"})
# An invoice goes with the buyer's "awaiting payment" news (E3).
INVOICE_STATUSES = frozenset({"awaiting_payment"})


def offered_kinds(shop: Shop, is_staff: bool) -> tuple[str, ...]:
    """The documents of an order to offer this person: the staff all, a buyer theirs; the
    payment slip only once the shop has written the bank details it is paid by."""
    return tuple(
        kind
        for kind in KINDS
        if (is_staff or kind in BUYER_KINDS) and (kind != "payment_slip" or has_bank_details(shop))
    )


@dataclass(frozen=True)
class Document:
    kind: str
    language: str
    name: str  # the file name: "invoice-1042.pdf"
    pdf: bytes


@dataclass(frozen=True)
class TemplateInfo:
    kind: str
    language: str
    body: str
    version: int | None  # None: the default, the shop has saved none (or went back to it)
    has_previous: bool  # something to restore: an older version, or the default

    @property
    def is_default(self) -> bool:
        return self.version is None


class DocumentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        orders: OrderService | None = None,  # needed for `for_order` (access through it)
        renderer: RenderPool | None = None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._orders = orders
        # Workflow versions never change (services.workflow.store): parsed once, for the
        # status's title in the invoice sent with the buyer's news.
        self._workflows: dict[int, Workflow] = {}
        # Renders run in worker processes with hard limits, never on the event loop.
        self._owns_renderer = renderer is not None
        self._renderer = renderer or shared_pool()

    async def close(self) -> None:
        """Stop the workers of the pool it was given (the shared one lives on)."""
        if self._owns_renderer:
            await self._renderer.close()

    # -- an order's documents ----------------------------------------------------------------

    async def for_order(self, order_id: int, actor: ActorRef, kind: str, language: str) -> Document:
        """The document for this person; OrderRefused when they may not see the order."""
        _check_kind(kind, language)
        if self._orders is None:
            raise RuntimeError("DocumentService.for_order needs the OrderService")
        view = await self._orders.view(order_id, actor)
        if not view.who.is_staff and kind not in BUYER_KINDS:
            raise Refused(Reason.FORBIDDEN, "this document is for the shop's staff")
        if kind not in offered_kinds(view.shop, view.who.is_staff):
            raise invalid("kind", "the shop has not written its bank details yet")
        title = status_title(view.workflow, view.order.status, language)
        async with reading(self._sessions) as session:
            body = await _active_body(session, view.shop.id, kind, language)
        return await self._render(view.order, view.shop, kind, language, body, title)

    async def invoice_for_buyer(
        self, order_id: int, language: str, now: datetime | None = None
    ) -> Document | None:
        """The invoice sent with the buyer's news (the notification pump, e-mail): the order
        as it is now; None when it is gone. The same document as the buyer's link gives
        (`for_order`, the status's title included), so the pool renders it once for all."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        async with reading(self._sessions) as session:
            order = await session.get(Order, order_id, options=[selectinload(Order.items)])
            if order is None:
                return None
            shop = await session.get(Shop, order.shop_id)
            body = await _active_body(session, shop.id, "invoice", language)
            workflow = self._workflows.get(order.workflow_id)
            if workflow is None:
                definition = await session.get(WorkflowDefinition, order.workflow_id)
                workflow = load_workflow(definition.body) if definition is not None else None
                if workflow is not None:
                    self._workflows[order.workflow_id] = workflow
        title = status_title(workflow, order.status, language) if workflow is not None else ""
        return await self._render(order, shop, "invoice", language, body, title, now=now)

    async def _render(
        self,
        order: Order,
        shop: Shop,
        kind: str,
        language: str,
        body: str | None,
        status_title: str = "",
        now: datetime | None = None,
    ) -> Document:
        now = now or self._clock.now()
        # Drawing the barcode and QR images is CPU work: off the event loop (the objects are
        # loaded already; nothing is read from the database there).
        variables = await asyncio.to_thread(
            document_variables, order, shop, language, now, status_title
        )
        title = f"{TITLES[language][kind]} {order.number}"
        if body is not None:
            try:
                pdf = await self._renderer.pdf(body, variables, title=title)
                return Document(kind, language, file_name(kind, language, order.number), pdf)
            except TemplateProblem as problem:
                # It rendered on the sample order, not on this one (a field empty here...):
                # the buyer still gets a document, the default one; the log says why.
                log.warning(
                    "shop %s %s template failed on order %s: %s; default used",
                    shop.id,
                    kind,
                    order.id,
                    problem,
                )
        pdf = await self._renderer.pdf(default_template(kind, language), variables, title=title)
        return Document(kind, language, file_name(kind, language, order.number), pdf)

    # -- the shop's templates ------------------------------------------------------------------

    async def template(self, shop_id: int, user_id: int, kind: str, language: str) -> TemplateInfo:
        _check_kind(kind, language)
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            return await _info(session, shop_id, kind, language)

    async def preview(
        self, shop_id: int, user_id: int, kind: str, language: str, body: str
    ) -> Document:
        """The uploaded text rendered on a sample order; TemplateProblem says what is wrong.
        Nothing is saved."""
        _check_kind(kind, language)
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
        body = _text(body)
        now = self._clock.now()
        order = sample_order(shop, now)
        variables = await asyncio.to_thread(document_variables, order, shop, language, now, "—")
        # Checked without running it first, then rendered: both in a worker process.
        pdf = await self._renderer.pdf(body, variables, title=TITLES[language][kind], check=True)
        return Document(kind, language, f"preview-{file_name(kind, language, order.number)}", pdf)

    async def save(
        self, shop_id: int, user_id: int, kind: str, language: str, body: str
    ) -> TemplateInfo:
        """The checked text becomes the active version (checked again: it came back from a
        conversation, and the sample order may have changed)."""
        await self.preview(shop_id, user_id, kind, language, body)
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            await self._store(session, shop_id, user_id, kind, language, _text(body))
            return await _info(session, shop_id, kind, language)

    async def restore_previous(
        self, shop_id: int, user_id: int, kind: str, language: str
    ) -> TemplateInfo:
        """Back to the version before the active one, or to the default when the active one
        is the first; restoring again walks further back. Newer versions are kept."""
        _check_kind(kind, language)
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            active = await _active(session, shop_id, kind, language)
            if active is None:
                raise Refused(Reason.ALREADY, "the default template is in use already")
            previous = await session.scalar(
                select(DocumentTemplate)
                .where(
                    *_same(shop_id, kind, language),
                    DocumentTemplate.version < active.version,
                )
                .order_by(DocumentTemplate.version.desc())
                .limit(1)
            )
            active.active = False
            await session.flush()  # one active row at a time, even within the transaction
            if previous is not None:
                previous.active = True
            await session.flush()
            return await _info(session, shop_id, kind, language)

    async def _store(
        self,
        session: AsyncSession,
        shop_id: int,
        user_id: int,
        kind: str,
        language: str,
        body: str,
    ) -> None:
        await session.execute(
            update(DocumentTemplate)
            .where(*_same(shop_id, kind, language), DocumentTemplate.active.is_(True))
            .values(active=False)
        )
        last = await session.scalar(
            select(func.max(DocumentTemplate.version)).where(*_same(shop_id, kind, language))
        )
        session.add(
            DocumentTemplate(
                shop_id=shop_id,
                kind=kind,
                language=language,
                version=(last or 0) + 1,
                body=body,
                active=True,
                created_at=self._clock.now(),
                created_by_user_id=user_id,
            )
        )
        await session.flush()

    # -- bank details (the payment slip and its QR) ------------------------------------------

    async def bank_details(self, shop_id: int, user_id: int) -> dict[str, str]:
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
            bank = (shop.settings or {}).get(BANK_SETTING) or {}
            return {key: str(bank.get(key) or "") for key in BANK_KEYS}

    async def set_bank_details(self, shop_id: int, user_id: int, text: str) -> dict[str, str]:
        """'key: value' lines (docs/documents.md); the keys and the digits are checked."""
        bank = parse_bank_details(text)
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id, with_for_update=True)
            shop.settings = {**(shop.settings or {}), BANK_SETTING: bank}
        return bank


# Digits each bank detail must have, when given (Russian formats); INN, KPP and VAT are
# checked further by services.documents.requisites (INN's check digits with python-stdnum).
BANK_DIGITS = {"inn": (10, 12), "account": (20,), "bic": (9,), "corr_account": (20,)}
CHECKS = {"inn": check_inn, "kpp": check_kpp, "vat": check_vat}


def parse_bank_details(text: str) -> dict[str, str]:
    bank: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip().replace("|", " ")
        if not sep or key not in BANK_KEYS:
            raise invalid(
                "bank", f"line {number}: write 'key: value' with a key of {', '.join(BANK_KEYS)}"
            )
        if key in BANK_DIGITS and value:
            if not value.isdigit() or len(value) not in BANK_DIGITS[key]:
                sizes = " or ".join(str(n) for n in BANK_DIGITS[key])
                raise invalid("bank", f"line {number}: {key} is {sizes} digits")
        if key in CHECKS and value:
            try:
                value = CHECKS[key](value)
            except ValueError as error:
                raise invalid("bank", f"line {number}: {error}") from error
        if len(value) > 160:
            raise invalid("bank", f"line {number}: {key} is too long")
        bank[key] = value
    return {key: bank.get(key, "") for key in BANK_KEYS}


def status_title(workflow: Workflow, status: str, language: str) -> str:
    """The status's title in `language` as documents show it; "" for a status the workflow
    does not know."""
    try:
        titles = workflow.status(status).title
    except KeyError:
        return ""
    return titles.get(language) or titles.get(DEFAULT_LANGUAGE) or ""


def _check_kind(kind: str, language: str | None = None) -> None:
    if kind not in KINDS:
        raise invalid("kind", f"no document {kind!r}")
    if language is not None and language not in LANGUAGES:
        raise invalid("language", f"no language {language!r}")


def _text(body: str) -> str:
    return body.replace("\r\n", "\n").removeprefix("\ufeff")


def _same(shop_id: int, kind: str, language: str):
    return (
        DocumentTemplate.shop_id == shop_id,
        DocumentTemplate.kind == kind,
        DocumentTemplate.language == language,
    )


async def _active(
    session: AsyncSession, shop_id: int, kind: str, language: str
) -> DocumentTemplate | None:
    return await session.scalar(
        select(DocumentTemplate).where(
            *_same(shop_id, kind, language), DocumentTemplate.active.is_(True)
        )
    )


async def _active_body(session: AsyncSession, shop_id: int, kind: str, language: str):
    active = await _active(session, shop_id, kind, language)
    return active.body if active is not None else None


async def _info(session: AsyncSession, shop_id: int, kind: str, language: str) -> TemplateInfo:
    active = await _active(session, shop_id, kind, language)
    if active is None:
        return TemplateInfo(kind, language, default_template(kind, language), None, False)
    return TemplateInfo(kind, language, active.body, active.version, True)
