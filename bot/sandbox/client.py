"""An aiogram session for the emulator (aiogram is imported only when a session is wanted)."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


class SandboxSession(AiohttpSession):
    async def close(self) -> None:
        # aiogram waits 250 ms after closing for TLS connections to shut down; the emulator
        # speaks plain HTTP, so closing at once saves that on every test.
        if self._session is not None and not self._session.closed:
            await self._session.close()


def sandbox_session(base_url: str) -> AiohttpSession:
    return SandboxSession(api=TelegramAPIServer.from_base(base_url))
