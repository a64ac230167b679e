"""E-mail texts from Jinja2 templates, in the reader's language (DESIGN "Notifications", D1).

Every topic has a pair of templates in services/messaging/email/templates: `<topic>.txt` (the
plain-text part, and the subject in its `{% block subject %}`) and `<topic>.html` (the HTML
part), each extending `base.txt` / `base.html`. The HTML ones are autoescaped, the text ones
are not.

The texts are English gettext msgids, `{{ _("Order #%(number)s", number=...) }}` (inline
`_()` rather than `{% trans %}` blocks, whose end tag would eat the text part's line break;
both are extracted), translated from the project's catalogs,
`locales/{ru,uk,en}/LC_MESSAGES/messages.mo`, like the bot's; a text a catalog lacks stays
English. Each language gets its own Environment with its catalog installed
(newstyle gettext: placeholders are named, and in HTML the values put into a translated text
are escaped), so renders in different languages never share gettext state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.messaging.email.formatting import one_line
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES

# The project's catalogs: <root>/locales, next to services/ (as bot.i18n finds them).
LOCALES = Path(__file__).resolve().parents[3] / "locales"
DOMAIN = "messages"
MAX_SUBJECT = 200  # characters; mail clients show far fewer, and headers stay short
MAX_SENDER = 100


@dataclass(frozen=True)
class MailContent:
    subject: str  # one line
    text: str  # the text/plain part
    html: str  # the text/html part


def language_of(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


class MailRenderer:
    """`render(template, context, language) -> MailContent`."""

    def __init__(self, locales: Path = LOCALES):
        self._locales = locales
        self._environments: dict[str, Environment] = {}
        self._lock = threading.Lock()

    def render(self, template: str, context: dict[str, Any], language: str) -> MailContent:
        """The subject and both parts of `template` ("status_changed") in `language`
        (unknown: the default, Russian). Raises jinja2's UndefinedError when the context
        lacks a variable the templates use, TemplateNotFound for an unknown topic."""
        language = language_of(language)
        env = self._environment(language)
        variables = {**context, "lang": language}
        text_template = env.get_template(f"{template}.txt")
        html_template = env.get_template(f"{template}.html")
        subject_block = text_template.blocks.get("subject")
        if subject_block is None:
            raise LookupError(f"{template}.txt has no subject block")
        subject = "".join(subject_block(text_template.new_context(variables)))
        return MailContent(
            subject=one_line(subject, MAX_SUBJECT),
            text=_tidy(text_template.render(variables)),
            html=html_template.render(variables).strip() + "\n",
        )

    def sender_name(self, shop_name: str, language: str) -> str:
        """The From display name of a shop's mail: "Shop via ShopBot", in `language`."""
        env = self._environment(language_of(language))
        module = env.get_template("_sender.txt").make_module({})
        return one_line(str(module.sender(one_line(shop_name, MAX_SENDER))), MAX_SENDER)

    # -- environments ------------------------------------------------------------------

    def _environment(self, language: str) -> Environment:
        env = self._environments.get(language)
        if env is None:
            with self._lock:
                env = self._environments.get(language)
                if env is None:
                    env = self._build(language)
                    self._environments[language] = env
        return env

    def _build(self, language: str) -> Environment:
        env = Environment(
            loader=PackageLoader("services.messaging.email", "templates"),
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            # Compiled once per language and kept: the templates ship with the code, so the
            # file's modification time is not looked up on every render (issue 15).
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        # {% trans %} blocks are written over several lines: whitespace inside is one space
        # (babel.cfg extracts them with `trimmed = true`, so the msgids match).
        env.policies["ext.i18n.trimmed"] = True
        env.install_gettext_translations(self._translations(language), newstyle=True)
        return env

    def _translations(self, language: str) -> NullTranslations:
        """The compiled catalog of `language` (none compiled: every text stays English)."""
        return Translations.load(str(self._locales), [language], domain=DOMAIN)


def _tidy(text: str) -> str:
    """The plain-text part: no trailing spaces, at most one empty line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"
