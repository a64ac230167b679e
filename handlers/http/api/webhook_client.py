"""The webhook pump's HTTP client (aiohttp): one POST, its outcome as the pump understands it."""

from __future__ import annotations

import aiohttp

from services.messaging.webhooks.pump import Answer

TIMEOUT = aiohttp.ClientTimeout(total=10)


class AiohttpPoster:
    def __init__(self, session: aiohttp.ClientSession | None = None):
        self._session = session
        self._own = session is None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return Answer(response.status, retry_after=_seconds(response.headers))
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            return Answer(None, f"{type(error).__name__}: {error}"[:300])

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(headers) -> float | None:
    value = headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
