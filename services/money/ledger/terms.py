"""A shop's money terms, kept in shop.settings and changed by its owner in /settings.

The platform takes a commission, or a distributor gives the shop a discount off the retail
price (seed 004's "income after the distributor discount"): for the ledger both are a
percentage of the goods that is not the shop's. The percentage is kept as a decimal string,
never a float, so 12.5 % stays exactly 12.5 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PERCENT_SETTING = "commission_percent"
KIND_SETTING = "commission_kind"
LATE_FEE_SETTING = "late_cancel_fee"

COMMISSION = "commission"  # the platform's fee for each order
DISTRIBUTOR_DISCOUNT = "distributor_discount"  # the distributor's discount to the reseller
COMMISSION_KINDS = (COMMISSION, DISTRIBUTOR_DISCOUNT)

_PERCENT = re.compile(r"^\d{1,3}(\.\d{1,2})?$")


@dataclass(frozen=True)
class Terms:
    percent: Decimal = Decimal(0)
    kind: str = COMMISSION
    # F4 (003): a shop cancelling an order past its time limit pays the fee as if fulfilled.
    late_cancel_fee: bool = False

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> Terms:
        settings = settings or {}
        return cls(
            percent=Decimal(str(settings.get(PERCENT_SETTING, "0"))),
            kind=settings.get(KIND_SETTING, COMMISSION),
            late_cancel_fee=bool(settings.get(LATE_FEE_SETTING, False)),
        )


def parse_percent(text: str) -> str:
    """'12,5' or '12.5 %' -> '12.5'; 0 to 100 with at most two decimals. Raises ValueError."""
    value = text.strip().rstrip("%").strip().replace(",", ".")
    if not _PERCENT.match(value) or Decimal(value) > 100:
        raise ValueError(f"not a percentage: '{text}': write a number from 0 to 100, e.g. 12.5")
    return format(Decimal(value).normalize(), "f")  # "100", never "1E+2"


def parse_kind(text: str) -> str:
    kind = text.strip().lower()
    if kind not in COMMISSION_KINDS:
        raise ValueError(f"unknown kind '{text}': use one of {', '.join(COMMISSION_KINDS)}")
    return kind
