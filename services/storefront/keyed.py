"""The Idempotency-Key protocol around any storefront request that changes something (G1, H4).

As Stripe has it: the key is reserved first (services/storefront/idempotency.py); a retry
with the same key and request gets the first answer again, another request (another body,
or another endpoint) is refused, a key whose first request is still running says so. The
answer kept is the one the API gave: the caller's `work` returns it already rendered, and
a 5xx answer is not kept (the key is released, so the retry does the work). Work that
changes orders keeps its answer in its own transaction (`IdempotencyStore.keep`) and says
so (`Answered.kept`): one transaction fewer, and no window where the change is committed but
its answer is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.storefront.idempotency import (
    IdempotencyStore,
    InProgress,
    Mismatch,
    Proceed,
    Replay,
)


@dataclass(frozen=True)
class Answered:
    """What the API answered this time (and keeps for the key, unless it is a 5xx)."""

    status: int
    body: dict[str, Any]
    # Kept for the key already, in the transaction that did the work.
    kept: bool = field(default=False, compare=False)


Keyed = Answered | Replay | InProgress | Mismatch
# The work behind the key; `taken_over`: a request before this one held the key and died,
# so what it did may be committed already.
Work = Callable[[bool], Awaitable[Answered]]


def request_print(endpoint: str, body: Any) -> str:
    """The identity of a request other than order creation: its endpoint ("POST
    /v1/orders/7/cancel") and its parsed body, keys sorted, so spacing does not matter and a
    key used on another endpoint is a mismatch."""
    canonical = json.dumps(
        {"endpoint": endpoint, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class KeyedRequests:
    def __init__(self, keys: IdempotencyStore):
        self._keys = keys

    async def run(self, shop_id: int, key: str | None, print_: str, work: Work) -> Keyed:
        if key is None:
            return await work(False)
        outcome = await self._keys.begin(shop_id, key, print_)
        if not isinstance(outcome, Proceed):
            return outcome
        # An exception here leaves the key reserved until its lease ends: the change may have
        # been committed before it, and a retry after the lease is told what it finds then.
        answered = await work(outcome.taken_over)
        if answered.kept:
            return answered
        if answered.status >= 500:
            await self._keys.release(shop_id, key)
        else:
            await self._keys.finish(shop_id, key, answered.status, answered.body)
        return answered
