"""Why the order service refuses a request; handlers turn the code into a translated text."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Problem(StrEnum):
    # From the workflow engine (services.workflow.engine.Refusal carries the same values).
    UNKNOWN_ACTION = "unknown_action"
    ORDER_CLOSED = "order_closed"
    ALREADY_DONE = "already_done"
    NOT_AVAILABLE = "not_available"
    NOT_FOR_THIS_ORDER = "not_for_this_order"
    FORBIDDEN = "forbidden"
    INPUT_MISSING = "input_missing"
    INPUT_INVALID = "input_invalid"
    # The service's own.
    NOT_FOUND = "not_found"  # no such order, or not one this person may see
    STALE = "stale"  # the card was drawn from an older version of the order
    EDIT_NOT_ALLOWED = "edit_not_allowed"  # the workflow forbids this edit in this status
    INVALID = "invalid"  # a field of a new order or an edit is wrong; params name it
    DUPLICATE = "duplicate"  # the storefront already created this order
    BUSY = "busy"  # lost a race too many times; try again
    LINK_USED = "link_used"  # a one-click e-mail link works once


class OrderRefused(Exception):
    """A request the service refused; nothing was changed."""

    def __init__(self, code: Problem | str, message: str, params: Mapping[str, Any] | None = None):
        self.code = Problem(code)
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{self.code}: {message}")
