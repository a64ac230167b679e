"""The translation catalogs: complete, consistent with the code, and compilable.

`locales/messages.pot` is what `make locales` extracts from the code; every language the bot
speaks must translate all of it (English included: its msgstr repeats the msgid), keep each
text's {placeholders} and HTML tags, and compile. A string added to the code without running
`make locales`, or extracted but left untranslated, fails here, naming the string.
"""

from __future__ import annotations

import gettext
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, compile_catalogs
from services.vocabulary import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
POT = LOCALES / f"{DOMAIN}.pot"
# As the Makefile's `locales` target: pybabel's default keywords plus these.
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "__": None, "lazy_gettext": None}
NPLURALS = {"ru": 3, "uk": 3, "en": 2}

# {name}, {0}, {name:.2f}, {name!r}; not the escaped {{ and }}.
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*|\d*)(?:[!:][^{}]*)?\}(?!\})")
TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def key(message: Message) -> tuple:
    return (message.context, message.id)


def show(message_id) -> str:
    return repr(message_id if isinstance(message_id, str) else message_id[0])


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def tags(text: str) -> Counter:
    return Counter(TAG.findall(text))


def pairs(message: Message) -> list[tuple[str, str]]:
    """(source, translation) for each form: plural forms are checked against msgid_plural."""
    if isinstance(message.id, str):
        return [(message.id, message.string)]
    singular, plural = message.id[0], message.id[1]
    return [(singular if index == 0 else plural, form) for index, form in enumerate(message.string)]


@pytest.fixture(scope="module")
def pot() -> Catalog:
    return read_catalog(POT)


def test_pot_is_up_to_date_with_the_code(pot: Catalog) -> None:
    """What `make locales` would extract now is what the .pot holds."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")
    extracted = {
        (context, message)
        for _file, _line, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS
        )
        if message
    }
    in_pot = {key(message) for message in entries(pot)}
    missing = sorted(show(message) for _context, message in extracted - in_pot)
    stale = sorted(show(message) for _context, message in in_pot - extracted)
    assert not missing and not stale, (
        "locales/messages.pot is out of date: run `make locales`, then translate.\n"
        f"In the code but not in the .pot: {missing}\n"
        f"In the .pot but no longer in the code: {stale}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_header(language: str) -> None:
    catalog = read_catalog(po_path(language))
    assert str(catalog.locale) == language
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == language
    assert headers["Plural-Forms"].startswith(f"nplurals={NPLURALS[language]};")
    assert catalog.num_plurals == NPLURALS[language]
    assert not catalog.fuzzy, "the catalog's header is marked fuzzy"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_has_every_string_of_the_pot(pot: Catalog, language: str) -> None:
    catalog = read_catalog(po_path(language))
    ours = {key(message) for message in entries(catalog)}
    missing = sorted(show(message.id) for message in entries(pot) if key(message) not in ours)
    assert not missing, f"{language}: not in the catalog (run `make locales`): {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_fully_translated(language: str) -> None:
    catalog = read_catalog(po_path(language))
    untranslated, fuzzy, wrong_forms = [], [], []
    for message in entries(catalog):
        if message.fuzzy:
            fuzzy.append(show(message.id))
        if isinstance(message.id, str):
            if not message.string:
                untranslated.append(show(message.id))
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if len(forms) != catalog.num_plurals:
            wrong_forms.append(show(message.id))
        if not all(forms):
            untranslated.append(show(message.id))
    assert not (untranslated or fuzzy or wrong_forms), (
        f"{language}: untranslated: {untranslated}; fuzzy: {fuzzy}; "
        f"not {catalog.num_plurals} plural forms: {wrong_forms}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_tags(language: str) -> None:
    catalog = read_catalog(po_path(language))
    problems = []
    for message in entries(catalog):
        for source, translation in pairs(message):
            if not translation:
                continue  # reported by test_catalog_is_fully_translated
            if placeholders(source) != placeholders(translation):
                problems.append(
                    f"{source!r}: placeholders {sorted(placeholders(source))} "
                    f"became {sorted(placeholders(translation))}"
                )
            if tags(source) != tags(translation):
                problems.append(
                    f"{source!r}: tags {sorted(tags(source).elements())} "
                    f"became {sorted(tags(translation).elements())}"
                )
            if message.python_brace_format:
                try:
                    translation.format(**dict.fromkeys(placeholders(source), "x"))
                except (ValueError, KeyError, IndexError) as error:
                    problems.append(f"{translation!r} cannot be formatted: {error!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_compiles(language: str, tmp_path: Path) -> None:
    """As `pybabel compile` checks it, then compiled the bot's way and loaded by gettext."""
    catalog = read_catalog(po_path(language))
    errors = [
        f"{message.id!r}: {error}"
        for message, message_errors in catalog.check()
        for error in message_errors
    ]
    assert not errors, f"{language}: {errors}"
    target = tmp_path / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(po_path(language), target)
    assert compile_catalogs(tmp_path) == [target / f"{DOMAIN}.mo"]
    translations = gettext.translation(DOMAIN, tmp_path, languages=[language])
    for message in entries(catalog):
        if isinstance(message.id, str) and message.string and not message.fuzzy:
            assert translations.gettext(message.id) == message.string


# A number placed before a noun: "{n} tries", "%(num)s days". Such a text is a plural entry
# (ngettext), so Russian says "1 попытки", "5 попыток" and not one form or an abbreviation.
COUNTED = re.compile(
    r"(%\(\w+\)[sd]|\{\w+\}) (days?|hours?|minutes?|orders?|items?|goods|lines?|characters?"
    r"|tries|try|times|seconds?)\b"
)
# Fixed limits written as "at most N": the number is a constant the form was chosen for.
FIXED_LIMITS = {
    "A phone order holds at most {count} goods.",
    "A shop's name is 1 to {max} characters. Send the name again.",
    "At most {count} lines can be edited here.",
    "Not saved: the template is longer than {count} characters.",
    "The comment is too long: at most {count} characters.",
}
ABBREVIATED = re.compile(r"(%\(\w+\)[sd]|\{\w+\})\s*(дн|год|хв|мин|сут)\.")


def test_counted_nouns_are_plural_entries(pot: Catalog) -> None:
    singular = [
        message.id
        for message in entries(pot)
        if isinstance(message.id, str)
        and COUNTED.search(message.id)
        and message.id not in FIXED_LIMITS
    ]
    assert not singular, f"a number meets a noun: use ngettext: {singular}"


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_counts_are_not_abbreviated(language: str) -> None:
    catalog = read_catalog(po_path(language))
    abbreviated = [
        show(message.id)
        for message in entries(catalog)
        for form in (message.string if isinstance(message.string, tuple) else (message.string,))
        if ABBREVIATED.search(form or "")
    ]
    assert not abbreviated, f"{language}: '30 дн.' where a plural form belongs: {abbreviated}"
