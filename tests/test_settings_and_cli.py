"""Settings name the bad variable; the command line does what the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.settings import SettingsError, load_settings
from services.workflow.presets import preset_data

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL",))}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("HTTP_PORT", "0"),
        ("SMTP_TLS", "maybe"),
        ("PUBLIC_URL", "example.com"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_setting_is_named(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings(env_file=tmp_path / "absent.env")
    assert f"{variable}:" in str(error.value)


def test_settings_come_from_the_env_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=sqlite+aiosqlite:///x.db\nHTTP_PORT=9000\n")
    settings = load_settings(env_file=env_file)
    assert (settings.database_url, settings.http_port) == ("sqlite+aiosqlite:///x.db", 9000)


def test_workflow_validate_names_the_problem(tmp_path):
    broken = preset_data("marketplace")
    broken["transitions"][0]["to"] = "shiped"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True))
    result = run_cli("workflow", "validate", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown status 'shiped'" in result.stderr

    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(preset_data("platform"), allow_unicode=True))
    result = run_cli("workflow", "validate", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid workflow 'platform'" in result.stdout


def test_workflow_list_and_show(tmp_path):
    listed = run_cli("workflow", "list", cwd=tmp_path)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "marketplace",
        "stages",
        "platform",
        "reseller",
    ]
    shown = run_cli("workflow", "show", "reseller", cwd=tmp_path)
    assert yaml.safe_load(shown.stdout) == preset_data("reseller")


def test_shop_create_prints_the_id_and_a_working_token(tmp_path):
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    result = run_cli(
        "shop",
        "create",
        "--name",
        "Cats & Dogs",
        "--owner-telegram-id",
        "77",
        "--preset",
        "platform",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["shop id"] == "1"
    token = lines["storefront API token (shown once, keep it secret)"]
    # the token is stored only as its hash, and the hash matches
    import sqlite3

    from services.shops.auth import hash_token

    with sqlite3.connect(tmp_path / "cli.db") as db:
        stored = db.execute("select token_hash from api_tokens").fetchall()
        workflow = db.execute("select code, version from workflow_definitions").fetchall()
    assert stored == [(hash_token(token),)]
    assert workflow == [("platform", 1)]


def test_bad_settings_stop_the_cli_with_the_name(tmp_path):
    result = run_cli("migrate", cwd=tmp_path, env={"DATABASE_URL": "nonsense"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_timers_due_lists_what_fires_by_then_and_sweep_fires_it(tmp_path):
    # given a shop whose order waits for payment (its reminder in 2 days, the deadline in 3)
    import asyncio
    from datetime import UTC, datetime, timedelta

    from bot.container import build_container
    from bot.settings import Settings
    from services.orders.actors import ActorRef
    from services.time.clock import FrozenClock
    from tests.factories import make_order, make_shop

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    billed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)

    async def arrange():
        from storage.migrate import upgrade_async

        await upgrade_async(url)
        container = build_container(
            Settings(_env_file=None, database_url=url), clock=FrozenClock(billed)
        )
        try:
            shop = await make_shop(container)
            order = await make_order(container, shop)
            await container.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
        finally:
            await container.close()

    asyncio.run(arrange())
    env = {"DATABASE_URL": url}
    # when the operator asks what fires by 2.5 days after billing: only the reminder
    until = (billed + timedelta(days=2, hours=12)).strftime("%Y-%m-%dT%H:%M")
    due = run_cli("timers", "due", "--until", until, cwd=tmp_path, env=env)
    assert due.returncode == 0, due.stderr
    lines = due.stdout.splitlines()
    assert len(lines) == 1
    reminder_at = billed + timedelta(days=2)
    local = reminder_at + timedelta(hours=3)  # Moscow
    assert lines[0].startswith(f"{reminder_at:%Y-%m-%d %H:%M} UTC  {local:%a %Y-%m-%d %H:%M}")
    assert "order #1  in awaiting_payment: reminder payment_reminder" in lines[0]
    assert "1 timer(s) due by" in due.stderr
    # a moment that is not ISO is named
    bad = run_cli("timers", "due", "--until", "next friday", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "not an ISO time: 'next friday'" in bad.stderr

    # and `timers sweep` fires both, now (they fell due days ago)
    swept = run_cli("timers", "sweep", cwd=tmp_path, env=env)
    assert swept.returncode == 0, swept.stderr
    assert "2 timer(s) fired, 0 error(s)" in swept.stderr
    assert {line.split(maxsplit=1)[1] for line in swept.stdout.splitlines()} == {
        "applied",
        "sent",
    }
    again = run_cli("timers", "due", "--until", "2100-01-01T00:00", cwd=tmp_path, env=env)
    assert again.stdout == "" and "0 timer(s) due" in again.stderr
