"""Which address a request comes from, for rate limits, and a diagnostic of how we decided.

The shape assumed (docs/security.md has the sources): behind Firebase Hosting, a request to a
Cloud Function (2nd gen, i.e. Cloud Run) arrives with
`X-Forwarded-For: <whatever the client sent>, <client IP>, <a Google address>`: the two last
entries are appended on the way; everything to their left is the client's own and unverified.
So the client IP is the second entry from the right (FORWARDED_FOR_CLIENT_HOP = 2). A shorter
header than expected means fewer proxies (the emulator, a local run): then the leftmost entry,
which some proxy of ours wrote. 0 ignores the header (a function served with no proxy at all):
then the connection's peer address.

A call to the function's own URL, bypassing Hosting, may arrive in another shape (only one entry
appended: the caller); then the second entry from the right is the caller's to choose. Headers
alone cannot tell the two apart (docs/security.md says what bounds it), so a deployer checks
their own with `diagnostic_fields`, which names entries by position, never by address.

IPv6 clients are grouped by their /64: one subscriber usually holds a whole /64.
"""

import ipaddress
from dataclasses import dataclass

# Addresses reserved for documentation (RFC 5737, RFC 3849): no real client has one, so a
# deployer probes the header's shape by sending one (`X-Forwarded-For: 192.0.2.1`) and the
# diagnostic reports where it landed.
PROBE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


@dataclass(frozen=True)
class ClientAddress:
    ip: str  # the address the limits count (IPv6: its /64), or "unknown"
    hop: int  # the configured FORWARDED_FOR_CLIENT_HOP
    entries: tuple[str, ...]  # X-Forwarded-For, split and stripped
    used: int  # which entry gave `ip`, counted from the right (1: the last); 0: the connection's


def client_address(forwarded_for: str | None, remote_addr: str | None, hop: int) -> ClientAddress:
    entries = tuple(e.strip() for e in (forwarded_for or "").split(",") if e.strip())
    if hop > 0 and entries:
        used = min(hop, len(entries))
        grouped = _grouped(entries[-used])
        if grouped:
            return ClientAddress(grouped, hop, entries, used)
    return ClientAddress(_grouped(remote_addr or "") or "unknown", hop, entries, 0)


def client_ip(forwarded_for: str | None, remote_addr: str | None, hop: int) -> str:
    return client_address(forwarded_for, remote_addr, hop).ip


def diagnostic_fields(address: ClientAddress, fastly_client_ip: str | None) -> dict[str, object]:
    """What CLIENT_IP_DIAGNOSTIC logs: the header's shape by position, never an address.

    Positions count from the right, as "-1" (the last entry). `probeEntries`: where entries in the
    documentation ranges are (the probe the deployer sent); `usedEntryIsProbe`: the limits would
    count an address the caller wrote. `fastlyClientIp`: which entry Fastly-Client-IP (set by
    Hosting's CDN) equals.
    """
    positions = {n: f"-{len(address.entries) - i}" for i, n in enumerate(address.entries)}
    if fastly_client_ip is None:
        fastly = "absent"
    else:
        fastly = positions.get(fastly_client_ip.strip(), "in-no-entry")
    probes = [f"-{len(address.entries) - i}" for i, e in enumerate(address.entries) if _probe(e)]
    used = f"-{address.used}" if address.used else "connection"
    return {
        "forwardedForEntries": len(address.entries),
        "clientHop": address.hop,
        "usedEntry": used,
        "probeEntries": probes,
        "usedEntryIsProbe": used in probes,
        "fastlyClientIp": fastly,
    }


def _probe(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in network for network in PROBE_NETWORKS)


def _grouped(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
