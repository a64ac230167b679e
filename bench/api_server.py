"""One bot HTTP server with the storefront API, for bench/bench_api.py (no Telegram, no pumps).

`.venv/bin/python bench/api_server.py --database-url URL --port 8090`: builds the container
as the bot does and serves `build_web_app` with the API mounted at /api until killed.

For the event loop's lag (bench/loop_lag.py) on the server's own loop, over the client's
timed part only, it also mounts a bench-only control at /bench: `POST /bench/lag/start`
starts the probe, `POST /bench/lag/stop` stops it and answers its figures as JSON
(samples, p50_ms, p99_ms, max_ms). Nothing of it is in the bot's own web server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loop_lag import LagProbe  # noqa: E402
from bot import heap  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web import (  # noqa: E402
    build_api_app,
    build_web_app,
    start_web,
)
from services.messaging.email.links import LinkSigner  # noqa: E402

SECRET = "bench-secret"


def lag_control() -> web.Application:
    """The lag probe started and stopped by the bench's client, on this server's loop."""
    probe = LagProbe()

    async def start(_request: web.Request) -> web.Response:
        if probe.running:
            await probe.stop()
        await probe.start()
        return web.json_response({"started": True})

    async def stop(_request: web.Request) -> web.Response:
        if not probe.running:
            return web.json_response({"error": "not started"}, status=409)
        return web.json_response((await probe.stop()).as_dict())

    app = web.Application()
    app.add_routes([web.post("/lag/start", start), web.post("/lag/stop", stop)])
    return app


async def serve(database_url: str, host: str, port: int, write_queue: bool = True) -> None:
    if not write_queue:  # the "before" of bench_api.py: SQLite's busy handler alone
        import functools

        import bot.container
        from storage.database import create_engine

        bot.container.create_engine = functools.partial(create_engine, write_queue=False)
    # The rate limit (300 a minute per token) would be the bench: lifted here.
    settings = Settings(
        _env_file=None, database_url=database_url, secret_key=SECRET, api_rate_limit=1_000_000
    )
    container = build_container(settings)
    app = build_web_app(
        container,
        LinkSigner(SECRET),
        bot_username="bench_bot",
        subapps={
            "/api": build_api_app(container, bot_username="bench_bot"),
            "/bench": lag_control(),
        },
    )
    heap.settle()  # as the bot does before it serves (bot/runner.py)
    runner = await start_web(app, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-write-queue", action="store_true", help="SQLite: no writer FIFO")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # no access log: it would be the bench
    asyncio.run(serve(args.database_url, args.host, args.port, not args.no_write_queue))


if __name__ == "__main__":
    main()
