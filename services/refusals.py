"""Why a shop, staff or user service refuses a request; handlers turn the code into a text.

Orders have their own codes (services.orders.errors); these are for everything around them:
settings, staff and invites, the person's own profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    NOT_FOUND = "not_found"  # no such thing, or not one this person may see
    FORBIDDEN = "forbidden"  # staff of the shop, but their role may not do this
    INVALID = "invalid"  # a value is wrong; params["field"] names it
    EXPIRED = "expired"  # an invite link past its time
    USED = "used"  # an invite link someone has opened already
    LAST_OWNER = "last_owner"  # a shop never stays without an owner
    ALREADY = "already"  # the person already has what they asked for


class Refused(Exception):
    """A request the service refused; nothing was changed."""

    def __init__(self, code: Reason | str, message: str, params: Mapping[str, Any] | None = None):
        self.code = Reason(code)
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{self.code}: {message}")


def invalid(field: str, message: str) -> Refused:
    return Refused(Reason.INVALID, message, {"field": field})
