"""Rendering the Mini App's pages: Jinja2 templates in the person's language, from the same
gettext catalogs as the bot (`{{ _("...") }}`), with the formatting the chat uses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram.utils.i18n import I18n
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from handlers.telegram.card_view import method_name
from handlers.telegram.format import duration, money, role_name, title, when

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# The Mini App runs inside Telegram's web client as an iframe, and its own scripts only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'self' https://web.telegram.org "
        "https://*.telegram.org"
    ),
    # "same-origin", not "no-referrer": with no-referrer browsers send `Origin: null` on a
    # POST, and a browser session's changes are checked against our own origin.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


class Renderer:
    def __init__(self, i18n: I18n):
        self.i18n = i18n
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,  # names, comments and messages are user input
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.policies["ext.i18n.trimmed"] = True
        self.env.install_gettext_callables(
            lambda text: i18n.gettext(text),
            lambda singular, plural, n: i18n.gettext(singular, plural, n),
            newstyle=True,
        )
        self.env.globals.update(
            money=money,
            title=title,
            when=when,
            role_name=role_name,
            method_name=method_name,
            minutes=_minutes,
        )

    def text(self, template: str, language: str, **values: Any) -> str:
        with self.i18n.context(), self.i18n.use_locale(language):
            return self.env.get_template(template).render(lang=language, **values)

    def page(self, template: str, language: str, *, status: int = 200, **values) -> web.Response:
        response = web.Response(
            text=self.text(template, language, **values),
            status=status,
            content_type="text/html",
            charset="utf-8",
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    def words(self, language: str, fn, *args, **kwargs):
        """Call a gettext-using helper (a refusal's sentence) in `language`."""
        with self.i18n.context(), self.i18n.use_locale(language):
            return fn(*args, **kwargs)


def _minutes(value: timedelta | None) -> str:
    return duration(value) if value is not None else "—"
