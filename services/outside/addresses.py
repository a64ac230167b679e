"""Which addresses the bot may call on a shop's behalf (SSRF): public ones only.

A shop gives us URLs (its storefront's webhook, its store); a name or a number in such a URL
must not make the bot call into its own host or network. The check is made twice: on the
text when the shop saves it (`inward_host`, which also reads the old numeric forms such as
`2130706433`, `0x7f000001` or `127.1` that the C resolver maps onto an address), and on every
address a name resolves to at connect time (`public_address`, bot/guarded.py), so a name
that changes its answer after the first check (DNS rebinding) still cannot reach inside.
"""

from __future__ import annotations

import ipaddress
import socket

# The shop is told only this: where a name resolved to is no business of the shop's.
REFUSED = "the address is not a public one"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata services that are not caught as private or link-local by themselves.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
_INWARD_NAMES = ("localhost", "metadata.google.internal", "metadata")


def public_address(text: str) -> bool:
    """True for a global unicast address; loopback, private, link-local, shared (CGNAT),
    multicast, reserved, unspecified, documentation and metadata addresses are refused, also
    when hidden in an IPv4-mapped, NAT64 or 6to4 IPv6 address. Not an address: refused."""
    try:
        address: IPAddress = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return _public(address)


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not _public(embedded):
            return False
    return not (
        address in _METADATA
        or not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for, in any form the resolver accepts
    ("127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::1]"); None for a name."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if not host or any(c not in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def inward_host(host: str) -> bool:
    """A host in a URL the bot must not call: an inward name (localhost, a metadata name) or
    a number, in any form, that is not a public address. Other names are checked when they
    are resolved (bot/guarded.py)."""
    name = host.rstrip(".").lower()
    if any(name == inward or name.endswith("." + inward) for inward in _INWARD_NAMES):
        return True
    address = literal_address(name)
    return address is not None and not _public(address)
