"""HTTP to outside systems through an injected transport, so no service imports an HTTP library.

Payment providers, carriers, storefront platforms and shops' webhooks are reached through a
`Transport`; the composition root gives the real one (bot/outbound.py, aiohttp), and tests
give the same one pointed at fake servers on loopback. A transport never follows redirects
(an outside answer must not send us somewhere else) and caps what it reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_TIMEOUT = 10.0  # seconds for a whole request
DEFAULT_MAX_BYTES = 2 * 1024 * 1024  # an answer bigger than this is not read


class HttpFailure(Exception):
    """No usable answer: refused, timed out, not resolved, TLS failed, an address we do not
    call, or an answer over the size cap. Worth retrying later, except `refused_address`."""

    def __init__(self, reason: str, *, refused_address: bool = False):
        self.reason = reason
        self.refused_address = refused_address
        super().__init__(reason)


class MalformedAnswer(Exception):
    """The outside system answered, but not in the shape its documentation promises."""


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise MalformedAnswer(f"not JSON ({self.status}): {self.body[:120]!r}") from error

    def retry_after(self) -> float | None:
        """Seconds from a `Retry-After: N` header; None when absent or a date."""
        value = (self.header("retry-after") or "").strip()
        return float(value) if value.isdigit() else None


class Transport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        time_limit: float = DEFAULT_TIMEOUT,
    ) -> HttpReply:
        """One request, no redirects followed; raises HttpFailure when there is no answer."""
        ...

    async def close(self) -> None:
        """Let go of the connections (the owner of the transport calls it once)."""
        ...


def json_body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
