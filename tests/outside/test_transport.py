"""The outbound transport reads whole answers (however they arrive), caps their size and never
follows a redirect."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.outbound import AiohttpTransport
from services.outside.http import HttpFailure


@pytest.fixture
async def server():
    async def big(request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, size, 7_001):  # many small writes: the body arrives in pieces
            await response.write(b"x" * min(7_001, size - start))
        await response.write_eof()
        return response

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/big?size=1")

    app = web.Application()
    app.add_routes([web.get("/big", big), web.get("/moved", moved)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_big_answer_arriving_in_pieces_is_read_whole(server):
    transport = AiohttpTransport(max_bytes=1_000_000)
    try:
        reply = await transport.request("GET", f"{server}/big?size=300009")
    finally:
        await transport.close()
    assert len(reply.body) == 300_009


async def test_an_answer_over_the_cap_is_refused(server):
    transport = AiohttpTransport(max_bytes=100_000)
    try:
        with pytest.raises(HttpFailure, match="over 100000 bytes"):
            await transport.request("GET", f"{server}/big?size=100001")
        reply = await transport.request("GET", f"{server}/big?size=100000")
    finally:
        await transport.close()
    assert len(reply.body) == 100_000


async def test_a_redirect_is_not_followed(server):
    transport = AiohttpTransport()
    try:
        reply = await transport.request("GET", f"{server}/moved")
    finally:
        await transport.close()
    assert reply.status == 302
