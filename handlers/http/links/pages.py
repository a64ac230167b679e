"""The pages behind the one-click links in e-mails to buyers (SPEC D2).

An e-mail about an order carries `{PUBLIC_URL}/l/{token}` links, each signed for one action
of the order's buyer (services.messaging.email.links): confirm receipt, cancel with a reason,
any other action the buyer may take, or "open in Telegram".

- GET only reads (mail scanners fetch every link of a message): it checks the token and shows
  the order with a form that POSTs to the same address, or says why there is nothing to do.
- POST checks the token again and makes one call to the order service, which decides
  everything and records the link's use with the change, so a link works once.

Everything the pages say is in the buyer's language (the order's buyer, else the shop's,
else the default), from the project's gettext catalogs. Shop and item names come from users:
the templates escape them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from handlers.telegram.card_view import method_name
from handlers.telegram.format import money, title
from services.documents.service import DocumentService
from services.messaging.email.links import (
    DOWNLOAD_INVOICE,
    OPEN_IN_TELEGRAM,
    ActionLink,
    LinkProblem,
    LinkRefused,
    LinkSigner,
)
from services.orders.actors import ActorRef, Channel
from services.orders.decisions import facts
from services.orders.service import OrderService, OrderView
from services.refusals import OrderRefused, Problem
from services.time.clock import Clock
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES
from services.workflow.definition import ActorKind, Input, StatusKind
from services.workflow.engine import MAX_COMMENT, ActionOption, Actor, decide, reasons_for

log = logging.getLogger(__name__)

LINK_PATH = "/l/{token}"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_ITEMS_SHOWN = 50  # a long order is cut; its total is always shown

# Every link page: never cached, indexed, framed or leaking its address (the token is the
# buyer's key) to another site; no scripts at all, inline styles only.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}

# The order service's refusals of an action, as HTTP statuses. Wrong or missing inputs
# (400) show the form again; anything else unknown is a conflict with the order's state.
_STATUS_OF = {
    Problem.NOT_FOUND: 404,
    Problem.INPUT_MISSING: 400,
    Problem.INPUT_INVALID: 400,
    Problem.BUSY: 503,
}
_FORM_PROBLEMS = frozenset({Problem.INPUT_MISSING, Problem.INPUT_INVALID})
_FORM_INPUTS = tuple(str(i) for i in Input)


def link_url(public_url: str, token: str) -> str:
    """The address of a one-click link, for the e-mails: `{PUBLIC_URL}/l/{token}`."""
    return public_url.rstrip("/") + LINK_PATH.format(token=quote(token, safe=""))


def build_templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value: shop and item names, reasons, comments are user input
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_language(view: OrderView | None, accept_language: str | None = None) -> str:
    """The buyer's language, else the shop's; without an order, the browser's; else ru."""
    if view is not None:
        for language in (view.order.buyer.language, view.shop.language):
            if language in LANGUAGES:
                return language
        return DEFAULT_LANGUAGE
    return _browser_language(accept_language)


def _browser_language(header: str | None) -> str:
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (header or "")[:500].split(","):
        tag, _sep, params = part.strip().partition(";")
        language = tag.strip().split("-")[0].lower()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if language in LANGUAGES and q > best_q:
            best, best_q = language, q
    return best


@dataclass(frozen=True)
class Page:
    """A rendered page: the template, its values and the HTTP status."""

    template: str
    status: int
    values: dict[str, Any]


class LinkPages:
    """The GET and POST handlers of `/l/{token}`."""

    def __init__(
        self,
        orders: OrderService,
        clock: Clock,
        signer: LinkSigner,
        *,
        bot_username: str | None,
        i18n: I18n,
        templates: Environment | None = None,
        documents: DocumentService | None = None,
    ):
        self._orders = orders
        self._documents = documents
        self._clock = clock
        self._signer = signer
        self._bot_username = bot_username.lstrip("@") if bot_username else None
        self._i18n = i18n
        self._templates = templates or build_templates()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(LINK_PATH, self.show), web.post(LINK_PATH, self.act)]

    # -- GET: read only ------------------------------------------------------------------

    async def show(self, request: web.Request) -> web.Response:
        link = self._read(request)
        if isinstance(link, web.Response):
            return link
        actor = ActorRef.buyer(link.buyer_id, Channel.EMAIL)
        try:
            view = await self._orders.view(link.order_id, actor)
        except OrderRefused as refused:
            return self._respond(request, None, partial(self._refused, refused.code, None))
        if link.action == OPEN_IN_TELEGRAM:
            return self._respond(request, view, partial(self._open, view))
        if link.action == DOWNLOAD_INVOICE and self._documents is not None:
            return await self._invoice(request, link, actor, view)
        if await self._orders.link_used(link.nonce):
            return self._respond(request, view, partial(self._refused, Problem.LINK_USED, view))
        option = _offered(view, link.action)
        if option is None:
            problem = _why_not(view, link.action)
            return self._respond(request, view, partial(self._refused, problem, view))
        return self._respond(request, view, partial(self._form, view, option))

    async def _invoice(
        self, request: web.Request, link: ActionLink, actor: ActorRef, view: OrderView
    ) -> web.Response:
        """The order's invoice as it is now, in the buyer's language (seed 002: theirs from
        the moment the order is placed). Read only: the link works as often as it is opened."""
        assert self._documents is not None
        language = page_language(view, request.headers.get("Accept-Language"))
        document = await self._documents.for_order(link.order_id, actor, "invoice", language)
        return web.Response(
            body=document.pdf,
            content_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{document.name}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # -- POST: the one call that acts ----------------------------------------------------

    async def act(self, request: web.Request) -> web.Response:
        link = self._read(request)
        if isinstance(link, web.Response):
            return link
        if link.action in (OPEN_IN_TELEGRAM, DOWNLOAD_INVOICE):
            return await self.show(request)  # nothing to do: the same as GET
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return self._respond(request, None, self._too_large)
        inputs = {
            name: value
            for name in _FORM_INPUTS
            if isinstance(value := form.get(name), str) and value.strip()
        }
        actor = ActorRef.buyer(link.buyer_id, Channel.EMAIL)
        try:
            result = await self._orders.apply(
                link.order_id,
                actor,
                link.action,
                inputs,
                with_view=True,
                link_nonce=link.nonce,
            )
        except OrderRefused as refused:
            log.info("link for order %s (%s) refused: %s", link.order_id, link.action, refused)
            view = await self._view_or_none(link.order_id, actor)
            option = _offered(view, link.action) if view is not None else None
            problem = refused.code
            if problem in _FORM_PROBLEMS and view is not None:
                if option is not None:  # the form again, with what was wrong
                    return self._respond(
                        request, view, partial(self._form, view, option, refused, inputs)
                    )
                problem = _why_not(view, link.action)  # the order moved on meanwhile
            return self._respond(request, view, partial(self._refused, problem, view))
        view = result.view
        assert view is not None
        log.info("order %s: %s by its buyer through an e-mail link", link.order_id, link.action)
        return self._respond(request, view, partial(self._done, view))

    # -- reading the link and the order --------------------------------------------------

    def _read(self, request: web.Request) -> ActionLink | web.Response:
        try:
            return self._signer.read_action(request.match_info["token"], self._clock.now())
        except LinkRefused as refused:
            if refused.problem is LinkProblem.EXPIRED:
                return self._respond(request, None, self._expired)
            if refused.problem is LinkProblem.USED:
                return self._respond(request, None, partial(self._refused, Problem.LINK_USED, None))
            return self._respond(request, None, self._tampered)

    async def _view_or_none(self, order_id: int, actor: ActorRef) -> OrderView | None:
        try:
            return await self._orders.view(order_id, actor)
        except OrderRefused:
            return None

    # -- rendering -----------------------------------------------------------------------

    def _respond(
        self,
        request: web.Request,
        view: OrderView | None,
        build: Callable[[], Page],
    ) -> web.Response:
        """Render what `build()` makes, in the page's language, with the security headers."""
        language = page_language(view, request.headers.get("Accept-Language"))
        with self._i18n.context(), self._i18n.use_locale(language):
            page: Page = build()
            values = {
                "lang": language,
                "shop_name": view.shop.name if view is not None else None,
                "order": _summary(view, language) if view is not None else None,
                "footer": _("This page was opened from a link in an e-mail about your order."),
                **page.values,
            }
            html = self._templates.get_template(page.template).render(**values)
        response = web.Response(
            text=html, status=page.status, content_type="text/html", charset="utf-8"
        )
        response.headers.update(SECURITY_HEADERS)
        if response.status == 503:
            response.headers["Retry-After"] = "5"
        return response

    def _form(
        self,
        view: OrderView,
        option: ActionOption,
        error: OrderRefused | None = None,
        given: Mapping[str, str] | None = None,
    ) -> Page:
        language = page_language(view)
        given = given or {}
        number = view.order.number
        action_title = title(option.title, language)
        cancelling = Input.REASON in option.inputs
        if cancelling:
            question = _("Cancel order #{number}?").format(number=number)
            button = _("Cancel the order")
        elif option.code == "confirm_receipt":
            question = _("Confirm receipt of order #{number}?").format(number=number)
            button = _("Confirm")
        elif option.code == "confirm_pickup":
            question = _("Confirm that you have picked up order #{number}?").format(number=number)
            button = _("Confirm")
        else:
            question = _("Order #{number}: {action}?").format(number=number, action=action_title)
            button = action_title
        reasons = []
        if cancelling:
            reasons = [
                {
                    "code": reason.code,
                    "title": title(reason.title, language),
                    "comment_required": reason.comment_required,
                }
                for reason in reasons_for(view.workflow, view.order.status, ActorKind.BUYER)
            ]
            if not reasons:
                return self._refused(Problem.NOT_AVAILABLE, view)
        comment = None
        if cancelling or Input.COMMENT in option.inputs:
            chosen = given.get(Input.REASON)
            # The chosen reason (a form shown again) or the action itself needs a comment.
            required = Input.COMMENT in option.inputs or any(
                reason["comment_required"] and reason["code"] == chosen for reason in reasons
            )
            for_reason = _("Comment (required for this reason)")
            comment = {
                "label": _("Comment")
                if Input.COMMENT in option.inputs
                else (for_reason if required else _("Comment (optional)")),
                # Until a reason is chosen: marked required by CSS when one that needs it is.
                "required_label": for_reason,
                "marks": not required and any(reason["comment_required"] for reason in reasons),
                "required": required,
                "max": MAX_COMMENT,
                "value": given.get(Input.COMMENT, ""),
            }
        labels = {Input.CARRIER: _("Carrier"), Input.TRACK_CODE: _("Track code")}
        fields = [
            {"name": str(needed), "label": labels[needed], "value": given.get(needed, "")}
            for needed in option.inputs
            if needed in labels
        ]
        return Page(
            "action.html",
            200 if error is None else 400,
            {
                "heading": action_title,
                "question": question,
                "error": _form_error(error) if error is not None else None,
                "labels": {
                    "reason": _("Why do you cancel the order?"),
                    "comment_needed": _("Please say more in the comment."),
                },
                "reasons": reasons,
                "chosen_reason": given.get(Input.REASON, ""),
                "comment": comment,
                "fields": fields,
                "button": button,
                "danger": cancelling,
            },
        )

    def _done(self, view: OrderView) -> Page:
        language = page_language(view)
        status = view.workflow.status(view.order.status)
        heading = _("Order #{number}: {status}").format(
            number=view.order.number, status=title(status.title, language)
        )
        if status.kind is StatusKind.FINAL_FAILURE:
            notice = _("The order is cancelled. The shop has been told.")
        else:
            notice = _("Thank you! The shop has been told.")
        return Page(
            "message.html", 200, {"heading": heading, "texts": [], "tone": "ok", "notice": notice}
        )

    def _open(self, view: OrderView) -> Page:
        number = view.order.number
        deep_link = (
            f"https://t.me/{quote(self._bot_username)}?start={quote(view.order.buyer_token)}"
            if self._bot_username
            else None
        )
        return Page(
            "open.html",
            200,
            {
                "heading": _("Order #{number} in Telegram").format(number=number),
                "text": _(
                    "Follow the order, talk to the shop, confirm receipt or cancel it in "
                    "the shop's Telegram bot."
                ),
                "deep_link": deep_link,
                "button": _("Open in Telegram"),
                "unreachable": _(
                    "The shop's Telegram bot cannot be reached right now. Please use the "
                    "links in the e-mail, or try again later."
                ),
            },
        )

    def _refused(self, problem: Problem, view: OrderView | None) -> Page:
        status_title = (
            title(view.workflow.status(view.order.status).title, page_language(view))
            if view is not None
            else None
        )
        if problem is Problem.LINK_USED:
            heading = _("This link has been used already.")
            texts = [_("Each link in our e-mails works once.")]
        elif problem is Problem.NOT_FOUND:
            heading = _("Order not found.")
            texts = [_("This link does not lead to an order of yours.")]
        elif problem is Problem.BUSY:
            heading = _("Please try again")
            texts = [_("The order is being changed by someone else; try again.")]
        else:
            heading = _("This cannot be done")
            texts = [_refusal_text(problem, status_title)]
        if status_title is not None and problem in (Problem.LINK_USED, Problem.BUSY):
            texts.append(_("The order is now “{status}”.").format(status=status_title))
        return Page(
            "message.html",
            _STATUS_OF.get(problem, 409),
            {"heading": heading, "texts": texts, "tone": None, "notice": None},
        )

    def _tampered(self) -> Page:
        return Page(
            "message.html",
            400,
            {
                "heading": _("This link is not valid"),
                "texts": [
                    _(
                        "It may have been cut or changed. Please use the link in the e-mail "
                        "about your order exactly as it is."
                    )
                ],
                "tone": None,
                "notice": None,
            },
        )

    def _expired(self) -> Page:
        return Page(
            "message.html",
            410,
            {
                "heading": _("This link has expired."),
                "texts": [_("Use the newest e-mail about your order, or open it in Telegram.")],
                "tone": None,
                "notice": None,
            },
        )

    def _too_large(self) -> Page:
        return Page(
            "message.html",
            413,
            {
                "heading": _("This cannot be done"),
                "texts": [_("The form is too large. Please write a shorter comment.")],
                "tone": None,
                "notice": None,
            },
        )


def _offered(view: OrderView, action: str) -> ActionOption | None:
    return next((option for option in view.actions if option.code == action), None)


def _why_not(view: OrderView, action: str) -> Problem:
    """Why the buyer cannot take `action` now, as the engine would say on a POST."""
    decision = decide(view.workflow, facts(view.order), Actor.buyer(), action, {}, view.now)
    if decision.applied or decision.code in _FORM_PROBLEMS:
        return Problem.NOT_AVAILABLE
    return Problem(decision.code)


def _refusal_text(problem: Problem, status: str | None) -> str:
    if status is not None:
        with_status = {
            Problem.ALREADY_DONE: _("This has been done already: the order is now “{status}”."),
            Problem.ORDER_CLOSED: _(
                "The order is closed (“{status}”): nothing can be changed any more."
            ),
            Problem.NOT_AVAILABLE: _("This is no longer possible: the order is now “{status}”."),
        }
        if problem in with_status:
            return with_status[problem].format(status=status)
    texts = {
        Problem.ALREADY_DONE: _("This has been done already."),
        Problem.ORDER_CLOSED: _("The order is closed: nothing can be changed any more."),
        Problem.NOT_AVAILABLE: _("This is no longer possible for this order."),
        Problem.NOT_FOR_THIS_ORDER: _("This does not apply to this order."),
        Problem.FORBIDDEN: _("This cannot be done from an e-mail; please contact the shop."),
        Problem.UNKNOWN_ACTION: _("The shop no longer offers this."),
    }
    return texts.get(problem, _("That did not work."))


def _form_error(refused: OrderRefused) -> str:
    field = refused.params.get("input")
    if refused.code is Problem.INPUT_MISSING:
        if field == Input.REASON:
            return _("Please choose a reason.")
        if field == Input.COMMENT:
            return _("Please add a comment: the reason you chose needs one.")
        return _("Please fill in every field.")
    if field == Input.REASON:
        return _("Please choose one of the reasons in the list.")
    if field == Input.COMMENT:
        return _("The comment is too long: at most {count} characters.").format(count=MAX_COMMENT)
    return _("That value is not valid.")


def _summary(view: OrderView, language: str) -> dict[str, Any]:
    """The order as the pages show it: number, status, goods, total."""
    order = view.order
    currency = order.currency
    lines = [
        {
            "name": item.name,
            "quantity": item.quantity,
            "amount": money(item.line_total, currency, language),
        }
        for item in order.items[:MAX_ITEMS_SHOWN]
    ]
    hidden = len(order.items) - len(lines)
    extras = []
    if order.discount:
        discount = money(order.discount, currency, language)
        extras.append({"label": _("Discount"), "amount": f"−{discount}"})
    if order.delivery_cost:
        extras.append(
            {
                "label": _("Delivery ({method})").format(method=method_name(order.delivery_method)),
                "amount": money(order.delivery_cost, currency, language),
            }
        )
    return {
        "heading": _("Order #{number}").format(number=order.number),
        "status": title(view.workflow.status(order.status).title, language),
        "lines": lines,
        "more": _("… and {count} more").format(count=hidden) if hidden > 0 else None,
        "extras": extras,
        "total_label": _("Total"),
        "total": money(order.total, currency, language),
    }
