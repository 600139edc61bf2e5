"""Issue 16, point 9: the one-off diagnostic that shows a deployer which X-Forwarded-For shape
reaches the function and which entry was used, without ever logging an address."""

import pytest

from checkout.platform.client_ip import client_address, diagnostic_fields

CLIENT, PROXY, PEER = "81.2.69.142", "34.96.0.1", "169.254.1.1"
MARKER = "192.0.2.1"  # a documentation address (RFC 5737): what a deployer sends to probe


def no_address_in(fields: dict[str, object]) -> None:
    text = repr(fields)
    for address in (CLIENT, PROXY, PEER, MARKER, "2001:db8"):
        assert address not in text


def test_through_hosting_with_a_probe_the_used_entry_is_not_the_probe() -> None:
    # As reported for Hosting -> Cloud Run: <what the client sent>, <client>, <Google's address>.
    address = client_address(f"{MARKER}, {CLIENT}, {PROXY}", PEER, 2)
    fields = diagnostic_fields(address, fastly_client_ip=CLIENT)
    assert fields == {
        "forwardedForEntries": 3,
        "clientHop": 2,
        "usedEntry": "-2",
        "probeEntries": ["-3"],
        "usedEntryIsProbe": False,
        "fastlyClientIp": "-2",
    }
    no_address_in(fields)


def test_a_direct_call_that_appends_the_caller_shows_the_probe_is_used() -> None:
    # A direct call, if Cloud Run appends the caller: <what the client sent>, <client>.
    address = client_address(f"{MARKER}, {CLIENT}", PEER, 2)
    assert address.ip == MARKER
    fields = diagnostic_fields(address, fastly_client_ip=None)
    assert fields["usedEntry"] == "-2" and fields["usedEntryIsProbe"] is True
    assert fields["fastlyClientIp"] == "absent"
    no_address_in(fields)


@pytest.mark.parametrize(
    ("forwarded_for", "hop", "used"),
    [
        (CLIENT, 2, "-1"),  # fewer entries than the hop: the leftmost
        (f"{MARKER}, {CLIENT}", 1, "-1"),
        (None, 2, "connection"),
        (f"junk, {PROXY}", 2, "connection"),  # an unparseable entry: the connection's address
        (f"{MARKER}, {CLIENT}", 0, "connection"),
    ],
)
def test_which_entry_was_used(forwarded_for: str | None, hop: int, used: str) -> None:
    fields = diagnostic_fields(client_address(forwarded_for, PEER, hop), fastly_client_ip=PROXY)
    assert fields["usedEntry"] == used
    no_address_in(fields)


def test_fastly_client_ip_that_matches_no_entry() -> None:
    fields = diagnostic_fields(client_address(f"{CLIENT}, {PROXY}", PEER, 2), "8.8.8.8")
    assert fields["fastlyClientIp"] == "in-no-entry"
    assert "8.8.8.8" not in repr(fields)


def test_ipv6_probes_are_recognised() -> None:
    address = client_address(f"2001:db8::1, {CLIENT}, {PROXY}", PEER, 2)
    assert diagnostic_fields(address, None)["probeEntries"] == ["-3"]
