"""`python -m bot shop token create|list|revoke`: the token is printed once, listed without
it, and revoked for the API at once."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.cli import build_parser, dispatch
from bot.container import build_container
from bot.settings import Settings
from services.storefront.tokens import ApiTokenService


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = dispatch(build_parser().parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


def authenticate(url: str, token: str):
    async def check():
        container = build_container(Settings(_env_file=None, database_url=url))
        try:
            return await ApiTokenService(container.sessions, container.clock).authenticate(token)
        finally:
            await container.close()

    return asyncio.run(check())


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_token_commands(capsys, database):
    # given a shop
    code, out, _ = cli(capsys, "shop", "create", "--name", "Cats", "--owner-telegram-id", "42")
    assert code == 0
    shop_id = re.search(r"shop id: (\d+)", out).group(1)
    # when a token is created, it is printed once with its id
    code, out, _ = cli(capsys, "shop", "token", "create", "--shop", shop_id, "--name", "web")
    assert code == 0
    token_id = re.search(r"token id: (\d+)", out).group(1)
    token = re.search(r"(sbk_\S+)", out).group(1)
    assert authenticate(database, token).shop_id == int(shop_id)
    # the list shows names and states, never a token
    code, out, _ = cli(capsys, "shop", "token", "list", "--shop", shop_id)
    assert code == 0 and "default" in out and "web" in out and "active" in out
    assert "sbk_" not in out
    # when it is revoked, the API refuses it at once
    code, out, _ = cli(capsys, "shop", "token", "revoke", "--shop", shop_id, "--id", token_id)
    assert code == 0 and "revoked" in out
    assert authenticate(database, token) is None
    code, out, _ = cli(capsys, "shop", "token", "list", "--shop", shop_id)
    assert re.search(rf"{token_id}\s+web\s+.*revoked", out)
    # refusals are clear and change nothing
    code, _, err = cli(capsys, "shop", "token", "revoke", "--shop", shop_id, "--id", token_id)
    assert code == 1 and "revoked already" in err
    code, _, err = cli(capsys, "shop", "token", "revoke", "--shop", shop_id, "--id", "999")
    assert code == 1 and "no such token" in err
    code, _, err = cli(capsys, "shop", "token", "create", "--shop", "999")
    assert code == 1 and "no such shop" in err
    code, _, err = cli(capsys, "shop", "token", "create", "--shop", shop_id, "--name", " ")
    assert code == 1 and "name" in err
