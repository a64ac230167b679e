"""The HTTP transport the composition root gives every adapter to the outside world
(services/outside/http.py): aiohttp, no redirects followed, answers capped in size."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bot.guarded import RefusedAddress, public_only_connector
from services.outside.addresses import REFUSED
from services.outside.http import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, HttpFailure, HttpReply


class AiohttpTransport:
    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        user_agent: str = "ShopBot/1.0",
        connector_factory=None,
        public_only: bool = False,
    ):
        self._session: aiohttp.ClientSession | None = None
        self._max_bytes = max_bytes
        self._user_agent = user_agent
        # A connector of one's own (a guarded resolver, for shop-given addresses).
        # `public_only`: for addresses a shop gave us, nothing but public addresses (SSRF).
        self._connector_factory = connector_factory or (
            public_only_connector if public_only else None
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        time_limit: float = DEFAULT_TIMEOUT,
    ) -> HttpReply:
        session = self._open()
        sent = {"User-Agent": self._user_agent, **(headers or {})}
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=sent,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=time_limit),
            ) as response:
                content = await _read_capped(response, self._max_bytes)
                return HttpReply(
                    status=response.status,
                    body=content,
                    headers={k.lower(): v for k, v in response.headers.items()},
                )
        except HttpFailure:
            raise
        except RefusedAddress as error:
            raise HttpFailure(REFUSED, refused_address=True) from error
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            raise HttpFailure(f"{type(error).__name__}: {error}"[:300]) from error

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = self._connector_factory() if self._connector_factory else None
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, refused once it passes `max_bytes` (a read returns what has arrived
    so far, not the whole body: read until the end)."""
    body = bytearray()
    while chunk := await response.content.read(max_bytes + 1 - len(body)):
        body += chunk
        if len(body) > max_bytes:
            raise HttpFailure(f"the answer is over {max_bytes} bytes")
    return bytes(body)
