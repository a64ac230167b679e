"""What a person is told when the service refuses: one translated sentence per reason."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from services.refusals import OrderRefused, Problem, Reason, Refused


def describe(refusal: OrderRefused | Refused) -> str:
    if isinstance(refusal, Refused):
        return _shop_text(refusal.code)
    texts = {
        Problem.UNKNOWN_ACTION: _("This button is not valid."),
        Problem.ORDER_CLOSED: _("The order is closed; nothing can be changed."),
        Problem.ALREADY_DONE: _("Already done."),
        Problem.NOT_AVAILABLE: _("Not possible in the order's current status."),
        Problem.NOT_FOR_THIS_ORDER: _("This does not apply to this order."),
        Problem.FORBIDDEN: _("You may not do this."),
        Problem.INPUT_MISSING: _("Something is missing: please fill it in."),
        Problem.INPUT_INVALID: _("That value is not valid."),
        Problem.NOT_FOUND: _("Order not found."),
        Problem.STALE: _("The order has changed; here is its current card."),
        Problem.EDIT_NOT_ALLOWED: _("This cannot be edited in the order's current status."),
        Problem.INVALID: _("That value is not valid."),
        Problem.DUPLICATE: _("This order exists already."),
        Problem.BUSY: _("The order is being changed by someone else; try again."),
        Problem.LINK_USED: _("This link has been used already."),
    }
    return texts.get(refusal.code, _("That did not work."))


def _shop_text(code: str) -> str:
    texts = {
        Reason.NOT_FOUND: _("Not found."),
        Reason.FORBIDDEN: _("You may not do this."),
        Reason.INVALID: _("That value is not valid."),
        Reason.EXPIRED: _("This link has expired."),
        Reason.USED: _("This link has been used already."),
        Reason.LAST_OWNER: _("A shop needs an owner: the last owner cannot be removed."),
        Reason.ALREADY: _("Already done."),
    }
    return texts.get(code, _("That did not work."))
