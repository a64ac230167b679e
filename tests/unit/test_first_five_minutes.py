"""What a newcomer reads first holds (issue 22): the README, the licence, the test summary."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_points_only_at_files_in_the_repository() -> None:
    assert "Coming:" not in README
    # The project's design notes live outside the repository: a reader cannot open them.
    for name in ("DESIGN.md", "SPEC.md", "STYLE.md"):
        assert name not in README or (ROOT / name).exists(), f"README names {name}: not here"
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), f"README links to {target}: not here"


def test_the_readme_has_no_unexplained_feature_codes() -> None:
    codes = re.findall(r"\((?:[A-K]\d{1,2}|seeds? \d{3})[;,)]", README)
    assert not codes, f"feature codes a newcomer cannot look up: {codes}"


def test_trying_the_bot_starts_from_the_venv_and_an_english_user() -> None:
    trying = README.split("## Trying the bot", 1)[1].split("\n## ", 1)[0]
    assert ". .venv/bin/activate" in trying
    assert '"language_code": "en"' in trying


def test_the_licence() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}


def test_skips_are_summarised_not_listed() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    report = re.search(r"-r(\w+)", options["ini_options"]["addopts"]).group(1)
    assert "s" not in report and "a" not in report and "A" not in report
