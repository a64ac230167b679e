"""Why a service refuses a request: the one source of every refusal vocabulary.

Two vocabularies, each defined once here:
- `Problem`: why an order request is refused. Its first members are the workflow engine's
  own refusals (services/workflow/engine.py refuses with exactly these, `ENGINE_PROBLEMS`);
  the rest are the order service's. Carried by `OrderRefused`.
- `Reason`: why a shop, staff or user request is refused (settings, staff and invites, the
  person's own profile). Carried by `Refused`.

Each edge turns a code into its own words: handlers/telegram/refusals.py into a translated
sentence, handlers/http/api/errors.py into an HTTP status and API error code. Both maps are
exhaustive, and tests/unit/test_refusal_vocabulary.py keeps them so.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Problem(StrEnum):
    # The workflow engine's refusals (a decision it makes without I/O).
    UNKNOWN_ACTION = "unknown_action"  # the workflow has no such action at all
    ORDER_CLOSED = "order_closed"  # the order is in a final status
    ALREADY_DONE = "already_done"  # the action was taken already (a double tap)
    NOT_AVAILABLE = "not_available"  # not possible from the current status
    NOT_FOR_THIS_ORDER = "not_for_this_order"  # the guards exclude this order
    FORBIDDEN = "forbidden"  # this person may not do it
    INPUT_MISSING = "input_missing"  # a required input (track code, reason) was not given
    INPUT_INVALID = "input_invalid"  # an input was given but is not acceptable
    # The order service's own.
    NOT_FOUND = "not_found"  # no such order, or not one this person may see
    STALE = "stale"  # the card was drawn from an older version of the order
    EDIT_NOT_ALLOWED = "edit_not_allowed"  # the workflow forbids this edit in this status
    INVALID = "invalid"  # a field of a new order or an edit is wrong; params name it
    DUPLICATE = "duplicate"  # the storefront already created this order
    BUSY = "busy"  # lost a race too many times; try again
    LINK_USED = "link_used"  # a one-click e-mail link works once
    SHOP_SUSPENDED = "shop_suspended"  # the operator suspended the shop: no changes by staff
    OUT_OF_STOCK = "out_of_stock"  # lines beyond the available stock; params["skus"] names them


# What the pure engine may answer; everything after these is the service's.
ENGINE_PROBLEMS = frozenset(
    {
        Problem.UNKNOWN_ACTION,
        Problem.ORDER_CLOSED,
        Problem.ALREADY_DONE,
        Problem.NOT_AVAILABLE,
        Problem.NOT_FOR_THIS_ORDER,
        Problem.FORBIDDEN,
        Problem.INPUT_MISSING,
        Problem.INPUT_INVALID,
    }
)


class OrderRefused(Exception):
    """An order request the service refused; nothing was changed."""

    def __init__(self, code: Problem | str, message: str, params: Mapping[str, Any] | None = None):
        self.code = Problem(code)
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{self.code}: {message}")


class Reason(StrEnum):
    NOT_FOUND = "not_found"  # no such thing, or not one this person may see
    FORBIDDEN = "forbidden"  # staff of the shop, but their role may not do this
    INVALID = "invalid"  # a value is wrong; params["field"] names it
    EXPIRED = "expired"  # an invite link past its time
    USED = "used"  # an invite link someone has opened already
    LAST_OWNER = "last_owner"  # a shop never stays without an owner
    ALREADY = "already"  # the person already has what they asked for


class Refused(Exception):
    """A shop, staff or user request the service refused; nothing was changed."""

    def __init__(self, code: Reason | str, message: str, params: Mapping[str, Any] | None = None):
        self.code = Reason(code)
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{self.code}: {message}")


def invalid(field: str, message: str) -> Refused:
    return Refused(Reason.INVALID, message, {"field": field})
