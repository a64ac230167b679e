"""One bot HTTP server with the storefront API, for bench/bench_api.py (no Telegram, no pumps).

`.venv/bin/python bench/api_server.py --database-url URL --port 8090`: builds the container
as the bot does and serves `build_web_app` with the API mounted at /api until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.container import build_container  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web import (  # noqa: E402
    build_api_app,
    build_web_app,
    start_web,
)
from services.messaging.email.links import LinkSigner  # noqa: E402

SECRET = "bench-secret"


async def serve(database_url: str, host: str, port: int) -> None:
    settings = Settings(_env_file=None, database_url=database_url, secret_key=SECRET)
    container = build_container(settings)
    app = build_web_app(
        container,
        LinkSigner(SECRET),
        bot_username="bench_bot",
        subapps={"/api": build_api_app(container, bot_username="bench_bot")},
    )
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # no access log: it would be the bench
    asyncio.run(serve(args.database_url, args.host, args.port))


if __name__ == "__main__":
    main()
