"""Translations: gettext catalogs in `locales/`, compiled from the .po files when needed.

Compiled .mo files are build output, not committed: `compile_catalogs` writes any that are
missing or older than their .po, at install, at start-up and before tests.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def compile_catalogs(path: Path = LOCALES) -> list[Path]:
    """Compile every stale catalog; returns the .mo files written."""
    written = []
    for language in LANGUAGES:
        po = path / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        mo = po.with_suffix(".mo")
        if not po.exists():
            continue
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        with mo.open("wb") as target:
            write_mo(target, catalog)
        written.append(mo)
    return written


def build_i18n(path: Path = LOCALES) -> I18n:
    compile_catalogs(path)
    return I18n(path=path, default_locale=DEFAULT_LANGUAGE, domain=DOMAIN)
