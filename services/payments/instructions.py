"""What a buyer is told about paying: the shop's own words per language, with its bank details.

Stored in `shop.settings["payment_instructions"]` as {language: text}. A plain string (how the
setting was read before it could be written) still counts, for every language. The bank
details are the payment slip's (services.documents, `shop.settings["bank"]`), so the shop types
them once and the slip, "How to pay", the awaiting-payment message and the e-mail agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.documents.defaults import LABELS
from services.documents.variables import BANK_KEYS, BANK_SETTING
from services.vocabulary import LANGUAGES

INSTRUCTIONS = "payment_instructions"  # the shop's settings key
MAX_INSTRUCTIONS = 3000  # characters of one language's text
# The bank details a buyer needs to make a transfer, with the slip's labels, in its order.
_BANK_LINES = (
    ("recipient", "recipient"),
    ("inn", "inn"),
    ("account", "account"),  # "р/с 40702… в ПАО Сбербанк": the bank's name joins it
    ("bic", "bic"),
    ("corr_account", "corr"),
)


def instructions_by_language(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """{language: the shop's own text} for the languages it wrote one for."""
    stored = (settings or {}).get(INSTRUCTIONS)
    if isinstance(stored, str):
        text = stored.strip()
        return dict.fromkeys(LANGUAGES, text) if text else {}
    if not isinstance(stored, Mapping):
        return {}
    return {
        language: str(stored[language]).strip()
        for language in LANGUAGES
        if str(stored.get(language) or "").strip()
    }


def instructions_for(settings: Mapping[str, Any] | None, language: str, fallback: str) -> str:
    """The shop's words in `language`, else in `fallback` (the shop's language), else in any
    language it wrote them in; "" when it wrote none."""
    texts = instructions_by_language(settings)
    for choice in (language, fallback, *LANGUAGES):
        if texts.get(choice):
            return texts[choice][:MAX_INSTRUCTIONS]
    return ""


def bank_lines(settings: Mapping[str, Any] | None, language: str) -> list[str]:
    """'BIC: 044525225' lines of the bank details the shop gave, with the slip's labels."""
    bank = (settings or {}).get(BANK_SETTING) or {}
    labels = LABELS.get(language) or LABELS["en"]
    lines = []
    for key, label in _BANK_LINES:
        value = str(bank.get(key) or "").strip()
        if not value or key not in BANK_KEYS:
            continue
        if key == "account" and str(bank.get("bank_name") or "").strip():
            value = f"{value} {labels['in_bank']} {str(bank['bank_name']).strip()}"
        name = labels.get(label, key)
        lines.append(f"{name[:1].upper()}{name[1:]}: {value}")
    return lines


def payment_text(settings: Mapping[str, Any] | None, language: str, fallback: str) -> str:
    """Everything a buyer is told about paying: the shop's words, then its bank details;
    "" when the shop gave neither."""
    parts = [
        instructions_for(settings, language, fallback),
        "\n".join(bank_lines(settings, language)),
    ]
    return "\n\n".join(part for part in parts if part)


def with_instructions(
    settings: Mapping[str, Any] | None, language: str, text: str
) -> dict[str, Any]:
    """The settings with `language`'s text replaced ("" removes it)."""
    texts = instructions_by_language(settings)
    if isinstance((settings or {}).get(INSTRUCTIONS), str):
        texts = {}  # the old single text is replaced by texts per language
    if text:
        texts[language] = text
    else:
        texts.pop(language, None)
    return {**(settings or {}), INSTRUCTIONS: texts}
