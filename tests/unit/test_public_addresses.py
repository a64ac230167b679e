"""Which addresses the bot calls for a shop (SSRF): public ones only, in every written form."""

from __future__ import annotations

import pytest

from services.outside.addresses import inward_host, literal_address, public_address


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0x7f.1",
        "localhost",
        "api.localhost",
        "LOCALHOST.",
        "metadata.google.internal",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.1",
        "0.0.0.0",
        "0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "::",
    ],
)
def test_an_inward_host_in_any_form_is_refused(host):
    assert inward_host(host)


@pytest.mark.parametrize(
    "host", ["shop.example.com", "8.8.8.8", "134744072", "2a00:1450:4001:80b::200e", "deadbeef.io"]
)
def test_public_hosts_and_names_pass_the_text_check(host):
    assert not inward_host(host)


def test_the_old_numeric_forms_are_read_as_the_resolver_reads_them():
    assert str(literal_address("127.1")) == "127.0.0.1"
    assert str(literal_address("2130706433")) == "127.0.0.1"
    assert str(literal_address("0x7f000001")) == "127.0.0.1"
    assert str(literal_address("0177.0.0.1")) == "127.0.0.1"
    assert literal_address("example.com") is None
    assert literal_address("deadbeef") is None  # a name that looks like hex, not a number


def test_resolved_addresses_are_public_or_refused():
    assert public_address("93.184.216.34")
    assert public_address("2606:2800:220:1:248:1893:25c8:1946")
    for inward in ("127.0.0.1", "10.1.1.1", "169.254.169.254", "::ffff:10.0.0.1", "fe80::1%eth0"):
        assert not public_address(inward)
    assert not public_address("not an address")
