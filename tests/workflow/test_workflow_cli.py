"""`python -m bot workflow export|install|move --shop N`: the shop's workflow as a file."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.cli import build_parser, dispatch


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = dispatch(build_parser().parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shop_id(tmp_path, monkeypatch, capsys) -> str:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    code, out, _ = cli(capsys, "shop", "create", "--name", "Cats", "--owner-telegram-id", "42")
    assert code == 0
    return re.search(r"shop id: (\d+)", out).group(1)


def test_export_edit_install(capsys, tmp_path, shop_id):
    # given the shop's workflow, exported
    code, out, _ = cli(capsys, "workflow", "export", "--shop", shop_id)
    assert code == 0 and out.startswith(f"# shop {shop_id}, workflow version 1")
    body = yaml.safe_load(out)
    assert body["code"] == "marketplace"
    # when the file is edited and installed
    body["statuses"][2]["title"]["en"] = "Money in"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    code, out, _ = cli(capsys, "workflow", "install", "--shop", shop_id, str(path))
    # then it is the shop's version 2
    assert code == 0 and "installed as version 2" in out
    code, out, _ = cli(capsys, "workflow", "export", "--shop", shop_id)
    assert yaml.safe_load(out)["statuses"][2]["title"]["en"] == "Money in"
    code, out, _ = cli(capsys, "workflow", "move", "--shop", shop_id)
    assert code == 0 and "moved 0 open order(s)" in out


def test_a_bad_file_is_refused_with_its_problems(capsys, tmp_path, shop_id):
    code, out, _ = cli(capsys, "workflow", "export", "--shop", shop_id)
    body = yaml.safe_load(out)
    body["transitions"][0]["to"] = "shiped"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    code, _, err = cli(capsys, "workflow", "install", "--shop", shop_id, str(path))
    assert code == 1
    assert "transitions[0] 'confirm': unknown status 'shiped'" in err
    # the same text `workflow validate` prints
    code, _, validated = cli(capsys, "workflow", "validate", str(path))
    assert "transitions[0] 'confirm': unknown status 'shiped'" in validated
    path.write_text("statuses: [", encoding="utf-8")
    code, _, err = cli(capsys, "workflow", "install", "--shop", shop_id, str(path))
    assert code == 1 and "cannot read the file" in err
    code, out, _ = cli(capsys, "workflow", "export", "--shop", shop_id)
    assert out.startswith(f"# shop {shop_id}, workflow version 1")
