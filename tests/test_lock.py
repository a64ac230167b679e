"""The lock files pin every dependency with hashes and agree with pyproject.toml's pins, and
the Dockerfile and `make install` install from them (`make lock` regenerates both)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = _PIN.match(requirement.strip())
        assert match, f"not pinned exactly: {requirement}"
        found[canonical(match.group(1))] = match.group(3)
    return found


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            entries[current] = (match.group(3), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", PROJECT["dependencies"]),
        (
            "requirements-dev.lock",
            PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"],
        ),
    ],
)
def test_the_lock_has_every_pin_of_pyproject_at_its_version(lock, requirements):
    entries = locked(ROOT / lock)
    wanted = pins(requirements)
    missing = {name: version for name, version in wanted.items() if name not in entries}
    assert not missing, f"run `make lock`: {lock} lacks {missing}"
    differ = {
        name: (version, entries[name][0])
        for name, version in wanted.items()
        if entries[name][0] != version
    }
    assert not differ, f"run `make lock`: pyproject.toml vs {lock}: {differ}"
    # every package, transitive ones too, is pinned with at least one hash
    unhashed = [name for name, (_version, hashes) in entries.items() if hashes == 0]
    assert not unhashed
    assert len(entries) > len(wanted)  # the transitive ones are there


def test_the_runtime_lock_has_no_dev_tools():
    runtime = locked(ROOT / "requirements.lock")
    dev_only = set(pins(PROJECT["optional-dependencies"]["dev"])) - set(
        pins(PROJECT["dependencies"])
    )
    assert not dev_only & set(runtime)


def test_the_image_and_make_install_install_from_the_locks():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "--no-deps -e ." in makefile
    assert re.search(r"^lock:", makefile, re.MULTILINE)
