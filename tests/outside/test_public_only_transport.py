"""The transport for shop-given addresses connects to public addresses only (SSRF): checked
at connect time on every resolved address, so a name that turns inward after the shop saved
it (DNS rebinding) reaches nothing, and the failure says no more than "not public"."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from bot.guarded import PublicOnlyConnector
from bot.outbound import AiohttpTransport
from services.outside.addresses import REFUSED
from services.outside.http import HttpFailure


@pytest.fixture
async def inside():
    """A service on the bot's own host that must never be reached; counts its visitors."""
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="internal")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1], hits
    await runner.cleanup()


class Rebinding(AbstractResolver):
    """A name server under an attacker's control: the name was public when the shop saved it
    (the text check passes a name), and answers loopback when the bot connects."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "localhost", "[::ffff:127.0.0.1]"]
)
async def test_loopback_in_any_form_is_refused_without_detail(inside, host):
    port, hits = inside
    transport = AiohttpTransport(public_only=True)
    try:
        with pytest.raises(HttpFailure) as failure:
            await transport.request("POST", f"http://{host}:{port}/hooks", body=b"{}")
    finally:
        await transport.close()
    assert failure.value.refused_address and failure.value.reason == REFUSED
    assert hits == []


async def test_a_name_turning_inward_at_connect_time_reaches_nothing(inside):
    port, hits = inside
    transport = AiohttpTransport(
        connector_factory=lambda: PublicOnlyConnector(resolver=Rebinding(), use_dns_cache=False)
    )
    try:
        with pytest.raises(HttpFailure) as failure:
            await transport.request("GET", f"http://rebind.example:{port}/latest/meta-data")
    finally:
        await transport.close()
    assert failure.value.refused_address and "127.0.0.1" not in failure.value.reason
    assert hits == []


async def test_without_the_guard_the_same_request_reaches_the_inside(inside):
    # what the guard is for: the plain transport (operator-given URLs) does reach loopback
    port, hits = inside
    transport = AiohttpTransport()
    try:
        reply = await transport.request("GET", f"http://127.0.0.1:{port}/x")
    finally:
        await transport.close()
    assert reply.status == 200 and hits == ["/x"]
