"""Which address a request comes from, for rate limits: never one the client can forge.

Behind Firebase Hosting and Cloud Functions (2nd gen, i.e. Cloud Run), Google's front end
*appends* to X-Forwarded-For: `<whatever the client sent>, <client IP>, <front end's own IP>`
(Google Cloud's load balancer documentation: only the last two entries are added by Google;
all before them are passed along unverified). So the client IP is the second entry from the
right (FORWARDED_FOR_CLIENT_HOP = 2). A client can put anything to the left; it cannot change
what Google appends. A shorter header than expected means fewer proxies (the emulator, a local
run): then the leftmost entry, which some proxy of ours wrote. 0 ignores the header (a function
served directly, no proxy): then the connection's peer address.

IPv6 clients are grouped by their /64: one subscriber usually holds a whole /64.
"""

import ipaddress


def client_ip(forwarded_for: str | None, remote_addr: str | None, hop: int) -> str:
    entries = [e.strip() for e in (forwarded_for or "").split(",") if e.strip()]
    candidate = entries[-min(hop, len(entries))] if hop > 0 and entries else remote_addr
    return _grouped(candidate or "") or _grouped(remote_addr or "") or "unknown"


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
