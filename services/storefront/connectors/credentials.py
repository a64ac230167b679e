"""Checking what a shop gives us to reach its platform (keys, secrets, its store's address).

Refusals are `services.refusals.Refused` naming the field, as every other settings screen
gets them. A store URL is the shop's own and so is an address we will call with its keys:
HTTPS only (WooCommerce sends its keys in clear over HTTP Basic), and never an address
inside our own network (SSRF), unless the connector was built for a store on loopback
(tests and the demo).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from services.outside.addresses import inward_host
from services.refusals import Refused, invalid
from services.storefront.connectors.base import PlatformError

MAX_URL_LENGTH = 500
MAX_SECRET_LENGTH = 500


def required(
    credentials: Mapping[str, str], name: str, *, max_length: int = MAX_SECRET_LENGTH
) -> str:
    value = credentials.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "this is needed")
    value = value.strip()
    if len(value) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise invalid(name, f"at most {max_length} printable characters")
    return value


def store_url(text: str, field: str, *, allow_loopback_http: bool = False) -> str:
    """A store's base URL, normalised without a trailing slash ("https://shop.example",
    "https://example.com/shop" for a WordPress in a folder)."""
    url = text.strip()
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise invalid(field, "a URL like https://shop.example is needed")
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise invalid(field, "a URL like https://shop.example is needed")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise invalid(field, "the store's address only: no login, query or #fragment")
    loopback = _loopback(parts.hostname)
    if parts.scheme == "http" and not (allow_loopback_http and loopback):
        raise invalid(field, "the store must be reached over https://")
    if _inward(parts.hostname) and not (allow_loopback_http and loopback):
        raise invalid(field, "a public address is needed, not a local or private one")
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _loopback(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _inward(host: str) -> bool:
    """localhost, or a number in any form that is not a public address. (A name that resolves
    inward is the guarded transport's to catch: bot/guarded.py.)"""
    return inward_host(host)


def checked(
    platform: str, check: Callable[[Mapping[str, str]], dict[str, str]], given: Mapping[str, str]
) -> dict[str, str]:
    """`check` for a call to the platform: stored credentials that no longer pass are the
    shop's to fix, reported as a PlatformError that will not pass by retrying."""
    try:
        return check(given)
    except Refused as error:
        field = error.params.get("field", "")
        raise PlatformError(
            platform, f"the shop's {platform} settings need fixing: {field}: {error.message}"
        ) from error
