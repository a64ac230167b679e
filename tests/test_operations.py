"""Operations (G2): /healthz, /readyz, /metrics, structured logs and the webhook settings."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.container import build_container
from bot.logs import ContextFilter, JsonFormatter
from bot.mail import signer_of
from bot.settings import Settings, SettingsError, load_settings
from bot.web import CONTAINER, build_web_app
from services import metrics
from services.log_context import ORDER, UPDATE_ID
from services.refusals import OrderRefused
from storage.models import OutboxMessage
from tests.factories import make_order, make_shop

ROOT = Path(__file__).resolve().parents[1]


async def client_for(database_url: str, clock) -> TestClient:
    settings = Settings(_env_file=None, database_url=database_url)
    container = build_container(settings, clock=clock)
    app = build_web_app(container, signer_of(settings), bot_username="shopbot_test")
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def web_client(database_url, engine, clock):
    client = await client_for(database_url, clock)
    try:
        yield client
    finally:
        await client.close()
        await client.app[CONTAINER].close()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the Prometheus text format."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_health_and_readiness_when_the_database_answers(web_client):
    health = await web_client.get("/healthz")
    assert (health.status, await health.text()) == (200, "ok")
    ready = await web_client.get("/readyz")
    assert (ready.status, await ready.text()) == (200, "ready")
    assert ready.headers["Cache-Control"] == "no-store"


async def test_not_ready_when_the_database_is_unreachable(clock):
    # nothing listens on port 1: the connection is refused at once
    client = await client_for("postgresql+asyncpg://postgres@127.0.0.1:1/shopbot", clock)
    try:
        ready = await client.get("/readyz")
        assert (ready.status, await ready.text()) == (503, "database unavailable")
        health = await client.get("/healthz")
        assert health.status == 200  # alive all the same: a restart would not help
    finally:
        await client.close()
        await client.app[CONTAINER].close()


async def test_metrics_count_transitions_and_read_the_backlog(web_client, services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    before = samples(await (await web_client.get("/metrics")).text())
    confirmed = ("shopbot_transitions_total", (("action", "confirm"), ("channel", "telegram")))

    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm", {})

    page = await web_client.get("/metrics")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/plain")
    after = samples(await page.text())
    assert after[confirmed] == before.get(confirmed, 0) + 1
    # nothing was delivered in this test: every notification written so far is backlog
    async with services.sessions() as session:
        pending = dict(
            (
                await session.execute(
                    select(OutboxMessage.channel, func.count())
                    .where(OutboxMessage.state == "pending")
                    .group_by(OutboxMessage.channel)
                )
            ).all()
        )
    assert pending  # the new order and its confirmation
    for channel, count in pending.items():
        assert after[("shopbot_outbox_backlog", (("channel", channel),))] == count
        assert after[("shopbot_outbox_oldest_age_seconds", (("channel", channel),))] == 0.0
    assert after[("shopbot_timers_due", ())] == 0
    # time passes: the backlog ages, the payment reminder falls due
    services.clock.advance(timedelta(days=2, minutes=1))
    aged = samples(await (await web_client.get("/metrics")).text())
    channel = next(iter(pending))
    assert aged[("shopbot_outbox_oldest_age_seconds", (("channel", channel),))] >= 2 * 86400
    assert aged[("shopbot_timers_due", ())] >= 1


async def test_a_refused_change_counts_no_transition(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    counter = metrics.TRANSITIONS.labels("mark_paid", "telegram")
    before = counter._value.get()
    with pytest.raises(OrderRefused):
        await services.orders.apply(order.id, shop.as_user(shop.packer), "mark_paid", {})
    assert counter._value.get() == before


def test_json_log_lines_carry_the_update_and_the_order():
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "tapped %s", ("ship",), None)
    update_token = UPDATE_ID.set(4242)
    order_token = ORDER.set("3/17")
    try:
        ContextFilter().filter(record)
    finally:
        UPDATE_ID.reset(update_token)
        ORDER.reset(order_token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "tapped ship"
    assert (line["update_id"], line["order"], line["level"]) == (4242, "3/17", "INFO")
    assert record.context == " [update=4242 order=3/17]"


def test_webhook_mode_needs_a_well_formed_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/tg")
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET: set it with WEBHOOK_URL"):
        load_settings(env_file=None)
    monkeypatch.setenv("WEBHOOK_SECRET", "has spaces!")
    with pytest.raises(SettingsError, match=r"WEBHOOK_SECRET: .*letters, digits"):
        load_settings(env_file=None)
    monkeypatch.setenv("WEBHOOK_SECRET", "Good_secret-1")
    # links in e-mails must not point at the loopback default behind a public webhook
    with pytest.raises(SettingsError, match="PUBLIC_URL: set it with WEBHOOK_URL"):
        load_settings(env_file=None)
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    assert load_settings(env_file=None).webhook_secret.get_secret_value() == "Good_secret-1"


def test_the_compose_file_runs_two_replicas_with_settings_the_bot_knows():
    # No Docker engine here: the file is checked against the settings it must feed.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["bot"]["deploy"]["replicas"] == 2
    assert {"postgres", "redis", "proxy"} <= set(services)
    known = {name.upper() for name in Settings.model_fields}
    for name in ("bot", "migrate"):
        environment = services[name]["environment"]
        assert set(environment) <= known, set(environment) - known
        # .env reaches the containers whole: SMTP_*, MAIL_FROM, IMAP_* ... can be set
        assert services[name]["env_file"] == ".env"
    bot_environment = services["bot"]["environment"]
    assert bot_environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert {"REDIS_URL", "WEBHOOK_URL", "WEBHOOK_SECRET"} <= set(bot_environment)
    # PUBLIC_URL is required (interpolation fails without it), never a loopback default
    assert bot_environment["PUBLIC_URL"].startswith("${PUBLIC_URL:?")
    # the image is built once and the replicas run that image
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["migrate"]
    assert services["bot"]["image"] == services["migrate"]["image"]
    assert services["bot"]["pull_policy"] == "never"
    # one address for HTTP and for the reply mail, passed on to the replicas' ports
    assert services["proxy"]["ports"][:2] == ["8080:80", "25:25"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert f"set $bot http://bot:{bot_environment['HTTP_PORT']};" in nginx
    assert bot_environment["INBOUND_SMTP_HOST"] == "0.0.0.0"
    assert f"set $bot_smtp bot:{bot_environment['INBOUND_SMTP_PORT']};" in nginx


def test_nginx_finds_a_restarted_replica():
    # given the proxy's configuration (comments aside)
    nginx = "\n".join(
        line.split("#", 1)[0] for line in (ROOT / "deploy" / "nginx.conf").read_text().splitlines()
    )
    # then it asks Docker's DNS again every 10 s, and names the replicas through variables
    # (an `upstream` block or a literal host would be resolved once, at start)
    assert nginx.count("resolver 127.0.0.11 valid=10s") == 2  # http and stream
    assert re.search(r"\bupstream\s+\w+\s*\{", nginx) is None
    assert "proxy_pass $bot;" in nginx and "proxy_pass $bot_smtp;" in nginx
    assert "proxy_pass http://" not in nginx


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed here")
def test_nginx_accepts_the_configuration(tmp_path):
    # nginx -t outside Docker; Debian's nginx has the stream module as a loadable one
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    module = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
    if module.exists():
        config = f"load_module {module};\n{config}"
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
