"""Formatting for people: money, times and names in the reader's language."""

from __future__ import annotations

import html
from datetime import timedelta

from aiogram.utils.i18n import gettext as _

# One place for money and moments, so a buyer reads the same in the bot and in an e-mail.
from services.messaging.email.formatting import LOCALES, money, phone, when  # noqa: F401


def title(titles: dict[str, str], language: str) -> str:
    """A workflow title in the reader's language (every title has all three)."""
    return titles.get(language) or titles.get("ru") or next(iter(titles.values()), "")


def esc(text: str | None) -> str:
    """User-supplied text inside our HTML messages."""
    return html.escape(text or "", quote=False)


def role_name(role: str) -> str:
    names = {
        "owner": _("owner"),
        "admin": _("admin"),
        "manager": _("manager"),
        "packer": _("packer"),
        "courier": _("courier"),
        "accountant": _("accountant"),
    }
    return names.get(role, role)


def duration(value: timedelta) -> str:
    """Working time left, to the minute: '2 h 40 min', '45 min', '3 d 2 h' past a day."""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)
