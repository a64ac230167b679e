"""The refusal vocabularies have one source (services/refusals.py), and every edge has words
for every code: the engine refuses only with order problems, each problem has an HTTP status
and an API code, each problem and reason has its own sentence in Telegram."""

from __future__ import annotations

import pytest

from bot.i18n import build_i18n
from handlers.http.api import codes
from handlers.telegram.refusals import problem_texts, reason_texts
from services.refusals import ENGINE_PROBLEMS, Problem, Reason
from services.workflow import engine


def test_the_engine_refuses_with_the_order_problems():
    assert engine.Refusal is Problem
    # every code the engine module names is one of the engine's problems
    source = open(engine.__file__, encoding="utf-8").read()
    named = {problem for problem in Problem if f"Refusal.{problem.name}" in source}
    assert named == ENGINE_PROBLEMS


def test_every_problem_has_an_http_status_and_an_api_code():
    assert set(codes.PROBLEM_STATUS) == set(Problem)
    for problem, status in codes.PROBLEM_STATUS.items():
        assert codes.ALL[str(problem)] == status
        assert 400 <= status < 600


def test_the_api_codes_the_handlers_use_are_listed_with_their_status():
    for name in dir(codes):
        value = getattr(codes, name)
        if name.isupper() and isinstance(value, str):
            assert value in codes.ALL, name


@pytest.mark.parametrize(
    ("texts", "vocabulary"), [(problem_texts, Problem), (reason_texts, Reason)]
)
def test_every_code_has_its_own_sentence_in_telegram(texts, vocabulary):
    i18n = build_i18n()
    for language in ("ru", "uk", "en"):
        with i18n.context(), i18n.use_locale(language):
            sentences = texts()
        assert set(sentences) == set(vocabulary)
        assert all(sentences.values())
