"""The ledger's accounts and the kinds of posting that move money between them."""

from __future__ import annotations

from enum import StrEnum


class Account(StrEnum):
    """Where a shop's money is. Balances are debits minus credits; all of them sum to zero."""

    BUYER_PAYMENTS = "buyer_payments"  # what buyers paid in: negative, the source of it all
    RESERVED = "reserved"  # the shop's income on paid orders, not yet credited (004)
    DELIVERY_RESERVED = "delivery_reserved"  # delivery paid by buyers, held for the shop
    FEE_RESERVED = "fee_reserved"  # the platform's commission on paid orders, held
    AVAILABLE = "available"  # the shop's balance: credited income, compensations, penalties
    PLATFORM_FEE = "platform_fee"  # commission the platform has earned, penalties included
    REFUNDS = "refunds"  # paid back to buyers
    # Open between a buyer and the shop once an order was paid (issue 14): an edit raised
    # the total (the buyer owes: a debit balance, charged against buyer_payments), or lowered
    # it (the buyer's money held to be given back, until the refund is made).
    AMOUNT_DUE = "amount_due"
    REFUND_DUE = "refund_due"


# What the shop sees as "reserved": its expected income and the delivery held for it.
SHOP_RESERVED = (Account.RESERVED, Account.DELIVERY_RESERVED)
# A paid order's money held for it (services.money.ledger.settlement says how much in each),
# in the order its postings are written.
HELD = (Account.RESERVED, Account.DELIVERY_RESERVED, Account.FEE_RESERVED, Account.REFUND_DUE)


class Kind(StrEnum):
    """What a posting is for: one per money effect and account pair."""

    RESERVE_INCOME = "reserve_income"  # buyer_payments -> reserved
    RESERVE_DELIVERY = "reserve_delivery"  # buyer_payments -> delivery_reserved
    RESERVE_FEE = "reserve_fee"  # buyer_payments -> fee_reserved
    CREDIT_INCOME = "credit_income"  # reserved -> available
    CREDIT_DELIVERY = "credit_delivery"  # delivery_reserved -> available
    EARN_FEE = "earn_fee"  # fee_reserved -> platform_fee
    REFUND_GOODS = "refund_goods"  # reserved -> refunds
    REFUND_FEE = "refund_fee"  # fee_reserved -> refunds: the buyer gets the whole price back
    REFUND_DELIVERY = "refund_delivery"  # delivery_reserved -> refunds
    COMPENSATE_DELIVERY = "compensate_delivery"  # delivery_reserved -> available (004)
    PENALTY = "penalty"  # available -> platform_fee: a late cancellation's fee (F4)
    RETURN_INCOME = "return_income"  # reserved or available -> refunds: a returned line
    RETURN_FEE = "return_fee"  # fee_reserved or platform_fee -> refunds: its commission
    # amount_due -> buyer_payments: returned goods the buyer had not paid for yet (an order
    # paid in part) come off what they owe before anything is refunded.
    RETURN_DUE = "return_due"
    # fee_reserved -> reserved, platform_fee -> available: a returned line's commission that
    # the buyer's money no longer pays and is not paid back with: it pays the shop's income.
    FEE_RELEASED = "fee_released"
    # Payments with an amount, edits and splits of paid orders (issue 14).
    REALLOCATE = "reallocate"  # between an order's held accounts: the same money, a new split
    AMOUNT_DUE = "amount_due"  # buyer_payments -> amount_due: the buyer owes more
    DUE_CANCELLED = "due_cancelled"  # amount_due -> buyer_payments: owed no longer
    REFUND_DUE = "refund_due"  # held (or an overpayment) -> refund_due: owed back to the buyer
    REFUND_PAID = "refund_paid"  # refund_due -> refunds: the difference was given back
    SPLIT_OUT = "split_out"  # held -> buyer_payments: moved with the goods to the new order
    SPLIT_IN = "split_in"  # buyer_payments -> held: what the new order brought along
    # A memo, refunds -> refunds: the money the ledger gave back left through the provider,
    # under the provider's refund id (issue 17); it moves nothing.
    PROVIDER_REFUND = "provider_refund"
    PAID_LATE = "paid_late"  # amount_due -> available / platform_fee: a due paid after credit


RESERVE_KINDS = frozenset({Kind.RESERVE_INCOME, Kind.RESERVE_DELIVERY, Kind.RESERVE_FEE})
