"""An aiohttp connector that connects only to public addresses (SSRF, issue 14 item 5).

Every address a host resolves to is checked at connect time, after the resolver answered and
right before the socket is opened: a name that resolved to a public address when the shop
saved it and to 127.0.0.1 now (DNS rebinding) is refused, and so is a literal address. Only
the public answers of a name are tried; none at all is a `RefusedAddress`, which the
transport turns into an `HttpFailure` with `refused_address` and a text with no detail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult

from services.outside.addresses import inward_host, public_address

log = logging.getLogger(__name__)


class RefusedAddress(aiohttp.ClientError):
    """The host resolved to no public address."""


class PublicOnlyConnector(aiohttp.TCPConnector):
    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Any] | None = None
    ) -> list[ResolveResult]:
        if inward_host(host):  # a number in any form (127.1, 2130706433), localhost
            log.warning("refused a connection to %s: not a public address", host)
            raise RefusedAddress(host)
        resolved = await super()._resolve_host(host, port, traces=traces)
        allowed = [result for result in resolved if public_address(result["host"])]
        if not allowed:
            # The operator may see where it pointed; the shop is told no more than "not public".
            log.warning("refused a connection to %s: it resolves to no public address", host)
            raise RefusedAddress(host)
        return allowed


def public_only_connector() -> aiohttp.TCPConnector:
    # No DNS cache: every connection asks again, and every answer is checked.
    return PublicOnlyConnector(use_dns_cache=False)
