"""What a person is told when the service refuses: one translated sentence per reason.

Both maps name every code of their vocabulary (services/refusals.py); a new code fails
tests/unit/test_refusal_vocabulary.py until it has its sentence here.
"""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from services.refusals import OrderRefused, Problem, Reason, Refused


def problem_texts() -> dict[Problem, str]:
    return {
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
        Problem.SHOP_SUSPENDED: _(
            "The shop is suspended by the operator: orders cannot be changed until it is resumed."
        ),
        Problem.OUT_OF_STOCK: _("Not enough stock for some of the goods: see /products."),
    }


def reason_texts() -> dict[Reason, str]:
    return {
        Reason.NOT_FOUND: _("Not found."),
        Reason.FORBIDDEN: _("You may not do this."),
        Reason.INVALID: _("That value is not valid."),
        Reason.EXPIRED: _("This link has expired."),
        Reason.USED: _("This link has been used already."),
        Reason.LAST_OWNER: _("A shop needs an owner: the last owner cannot be removed."),
        Reason.ALREADY: _("Already done."),
    }


def describe(refusal: OrderRefused | Refused) -> str:
    if isinstance(refusal, Refused):
        return reason_texts().get(refusal.code, _("That did not work."))
    return problem_texts().get(refusal.code, _("That did not work."))
