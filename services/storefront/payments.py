"""The storefront's own checkout took the money (issue 17): `POST /v1/orders/{number}/payments`.

The storefront is signed in with its Bearer token, so what it reports is its word for its own
shop: a payment with its reference at the storefront's payment provider, applied through the
payments service once per reference, as any provider's (services.payments.service).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.payments import ProviderOutcome
from services.orders.service import OrderService
from services.payments.service import Confirmed, PaymentService
from services.refusals import OrderRefused, Problem
from services.storefront.orders import API_ACTOR
from services.storefront.queries import OrderState, StorefrontQueries

PROVIDER = "storefront"


@dataclass(frozen=True)
class StorefrontPaid:
    state: OrderState
    outcome: ProviderOutcome
    problem: str | None


class StorefrontPayments:
    def __init__(self, orders: OrderService, queries: StorefrontQueries, payments: PaymentService):
        self._orders = orders
        self._queries = queries
        self._payments = payments

    async def pay(
        self, shop_id: int, number: int, amount: int, currency: str, reference: str
    ) -> StorefrontPaid:
        order_id = await self._orders.find(shop_id, number, API_ACTOR)
        result = await self._payments.confirmed(
            Confirmed(
                PROVIDER,
                f"{shop_id}:{reference}",  # references are the storefront's, per shop
                order_id,
                amount,
                currency,
                {"reference": reference, "amount": amount, "currency": currency},
            )
        )
        state = await self._queries.order(shop_id, number)
        if state is None:  # deleted with its shop in between
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return StorefrontPaid(state, result.outcome, result.problem)
