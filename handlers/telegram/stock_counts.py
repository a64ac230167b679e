"""A stock count typed by staff (/products, and the real count after an out-of-stock
cancellation): taken only when it is a number a column holds and not below what open
orders hold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

if TYPE_CHECKING:
    from storage.models import Product


async def refused_count(message: Message, product: Product, count: str) -> bool:
    """Answers why a typed stock count cannot be taken (not a number, or below what open
    orders hold); True when it was refused."""
    if not count.isdigit() or len(count) > 9:
        await message.answer(_("Send a number, e.g. 4."))
        return True
    if int(count) < product.reserved:
        await message.answer(
            _(
                "At least {reserved}: that many are held for open orders. Send the count again."
            ).format(reserved=product.reserved)
        )
        return True
    return False
