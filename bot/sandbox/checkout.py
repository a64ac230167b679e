"""The payer's side of Telegram Payments: a user pays an invoice the bot sent.

What Telegram does once a user taps Pay and confirms (core.telegram.org/bots/payments and the
Bot API's answerPreCheckoutQuery):
1. it sends the bot a `pre_checkout_query` update (id, from, currency, total_amount,
   invoice_payload, and order_info when the invoice asked for name, phone, e-mail or address);
2. the bot must answer with answerPreCheckoutQuery within 10 seconds;
3. ok=True: the payer is charged and a message from the payer with `successful_payment` reaches
   the bot in their private chat; ok=False: the payer sees the bot's error_message and nothing
   is charged; no answer in time: the payment fails and nothing is charged either.
The 10 seconds are waited with an injected sleep, so a test decides when they are over instead
of waiting them out. Every try is kept on the invoice, so the transcript shows how it went.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.invoices import (
    STARS,
    CheckoutAttempt,
    PreCheckoutQuery,
    SandboxInvoice,
    SuccessfulPayment,
)
from bot.sandbox.state import SandboxError, SandboxMessage, SandboxUser, World

PRE_CHECKOUT_TIMEOUT = 10.0  # seconds Telegram gives a bot to answer a pre-checkout query
FIRST_QUERY_ID = 6_000_000_000_000_000_000
ADDRESS_FIELDS = ("country_code", "state", "city", "street_line1", "street_line2", "post_code")

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class CheckoutResult:
    status: str  # "paid", "refused" (the bot answered ok=False) or "timeout"
    pre_checkout_query_id: str
    error_message: str | None = None  # what the payer was shown when it failed
    message: SandboxMessage | None = None  # the successful_payment message, when paid

    @property
    def paid(self) -> bool:
        return self.status == "paid"


class Checkout:
    def __init__(
        self, world: World, *, timeout: float = PRE_CHECKOUT_TIMEOUT, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.world = world
        self.timeout = timeout
        self.sleep = sleep

    async def pay(
        self,
        payer: SandboxUser,
        invoice_message: SandboxMessage,
        *,
        order_info: dict[str, Any] | None = None,
    ) -> CheckoutResult:
        """`payer` pays the invoice in `invoice_message`; returns once the bot decided."""
        invoice = self._payable(invoice_message)
        query = PreCheckoutQuery(
            id=str(FIRST_QUERY_ID + self.world.next_id("pre_checkout_query")),
            payer=payer,
            invoice_message=invoice_message,
            order_info=_order_info(invoice, order_info),
        )
        self.world.pre_checkout_queries[query.id] = query
        self.world.push_update("pre_checkout_query", query.to_api)
        await self._wait_for_answer(query)
        if query.answer is None:
            query.expired = True
            error = f"the bot did not answer the pre-checkout query within {self.timeout:g} s"
            return self._failed(query, "timeout", error)
        if not query.answer.ok:
            return self._failed(query, "refused", query.answer.error_message)
        return self._charge(query)

    def _payable(self, message: SandboxMessage) -> SandboxInvoice:
        invoice = message.invoice
        where = f"message #{message.message_id} in {message.chat.name}"
        if invoice is None or not message.outgoing:
            raise SandboxError(f"{where} is not an invoice from the bot")
        if message.deleted:
            raise SandboxError(f"{where} was deleted")
        if invoice.paid_by is not None:
            raise SandboxError(f"the invoice in {where} was paid by {invoice.paid_by.first_name}")
        if invoice.is_flexible:
            raise SandboxError("flexible invoices need shipping queries, which are not emulated")
        if any(
            q.invoice_message is message and q.answer is None and not q.expired
            for q in self.world.pre_checkout_queries.values()
        ):
            raise SandboxError(f"a payment of the invoice in {where} is already under way")
        return invoice

    async def _wait_for_answer(self, query: PreCheckoutQuery) -> None:
        answered = asyncio.ensure_future(query.answered.wait())
        deadline = asyncio.ensure_future(self.sleep(self.timeout))
        try:
            await asyncio.wait({answered, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (answered, deadline):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _failed(self, query: PreCheckoutQuery, outcome: str, error: str | None) -> CheckoutResult:
        query.invoice.attempts.append(CheckoutAttempt(query.payer, outcome, error))
        self.world.notify()
        return CheckoutResult(outcome, query.id, error_message=error)

    def _charge(self, query: PreCheckoutQuery) -> CheckoutResult:
        invoice, payer = query.invoice, query.payer
        number = self.world.next_id("charge")
        payment = SuccessfulPayment(
            currency=invoice.currency,
            total_amount=invoice.total_amount,
            invoice_payload=invoice.payload,
            telegram_payment_charge_id=f"{self.world.bot.id}_{payer.id}_{number}",
            # Stars involve no provider; a provider's own id otherwise.
            provider_payment_charge_id="" if invoice.currency == STARS else f"sandbox-{number:08d}",
            order_info=query.order_info,
            title=invoice.title,
        )
        invoice.attempts.append(CheckoutAttempt(payer, "paid"))
        # The payment lands in the payer's private chat with the bot, wherever the invoice was.
        payer.started = True
        chat = self.world.private_chat(payer)
        message = self.world.add_message(chat, payer, outgoing=False, successful_payment=payment)
        self.world.push_update("message", message.to_api)
        return CheckoutResult("paid", query.id, message=message)


def _order_info(invoice: SandboxInvoice, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """The OrderInfo Telegram sends: exactly the fields the invoice asked for."""
    wanted = invoice.wanted_order_info()
    if not wanted:
        return None
    given = given or {}
    missing = [name for name in wanted if not given.get(name)]
    if missing:
        raise SandboxError(f"the invoice asks the payer for {', '.join(missing)}: pass order_info")
    info = {name: given[name] for name in wanted}
    address = info.get("shipping_address")
    if address is not None:
        if not isinstance(address, dict) or not all(
            isinstance(address.get(part), str) for part in ADDRESS_FIELDS
        ):
            raise SandboxError(f"a shipping_address has the string fields {ADDRESS_FIELDS}")
        info["shipping_address"] = {part: address[part] for part in ADDRESS_FIELDS}
    return info
