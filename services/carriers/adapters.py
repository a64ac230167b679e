"""The carrier adapters by key, built once by the composition root with the shared transport.

Base URLs come from settings (CARRIER_<NAME>_URL) so tests and the demo point them at fakes
on loopback; a URL for a carrier we have no adapter for, or one that is not http(s), stops
start-up rather than being ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

from services.carriers.base import CarrierAdapter
from services.carriers.boxberry import BoxberryAdapter
from services.carriers.calls import TIME_LIMIT, Sleep
from services.carriers.cdek import CdekAdapter
from services.carriers.nova_poshta import NovaPoshtaAdapter
from services.carriers.russian_post import RussianPostAdapter
from services.outside.http import Transport
from services.time.clock import Clock

ADAPTERS = {
    "russian_post": RussianPostAdapter,
    "cdek": CdekAdapter,
    "boxberry": BoxberryAdapter,
    "nova_poshta": NovaPoshtaAdapter,
}


def build_adapters(
    transport: Transport,
    urls: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    *,
    clock: Clock | None = None,
    time_limit: float = TIME_LIMIT,
) -> dict[str, CarrierAdapter]:
    urls = dict(urls or {})
    unknown = sorted(set(urls) - set(ADAPTERS))
    if unknown:
        raise ValueError(f"no carrier adapter named {', '.join(unknown)}")
    for name, url in urls.items():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the {name} URL must be an http(s) address")
    adapters: dict[str, CarrierAdapter] = {}
    for name, adapter in ADAPTERS.items():
        extra = {"base_url": urls[name]} if name in urls else {}
        adapters[name] = adapter(
            transport, sleep=sleep, clock=clock, time_limit=time_limit, **extra
        )
    return adapters
