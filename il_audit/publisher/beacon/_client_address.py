"""Who is the client: its address through trusted proxies, its rate-limit key, and the keyed hash.

``X-Forwarded-For`` is believed only as far as the operator says proxies sit in
front of the app (``trusted_proxy_hops``, default 0: the header is ignored and
the peer address is the client). Each trusted proxy appends the address it
received the request from, so with ``n`` hops the client is the ``n``-th entry
from the right; anything further left was written by the client and is ignored.
The seed believed the leftmost entry, which lets any client pick its own
rate-limit key.

Every address is normalised with :mod:`ipaddress`, so that one client has one
spelling: ports and brackets are dropped (``1.2.3.4:5678``, ``[::1]:80``), so
are IPv6 zone ids (``fe80::1%eth0``); an IPv4-mapped ``::ffff:1.2.3.4`` is
``1.2.3.4``, and IPv6 takes its canonical (shortest, lowercase) form. An entry
that is not an address (``unknown``, garbage) is not believed: the peer stands
in for it. The rate-limit key of an IPv6 client is its /64, the block one
subscriber gets; the stored hash is of the full address.

Addresses are stored only as an HMAC-SHA256 under ``IL_AUDIT_HASH_KEY``: a
plain hash of an IPv4 address is reversed by trying all 2**32 of them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

UNKNOWN_ADDRESS: Final = "unknown"
IPV6_KEY_PREFIX: Final = 64
"""Rate-limit keys of IPv6 clients are their /64: one subscriber gets at least that much."""
_MAX_ADDRESS_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """The client's normalised address (hashed when stored) and its rate-limit key."""

    address: str
    rate_key: str


def normalise_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``value`` (port, brackets and zone id dropped; IPv4-mapped unwrapped)."""
    text = value.strip()
    if not text or len(text) > _MAX_ADDRESS_LENGTH:
        return None
    port = ""
    if text.startswith("["):  # [v6] or [v6]:port
        text, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else ""
        if rest and not port:
            return None
    elif text.count(":") == 1:  # v4:port (a bare IPv6 address has at least two colons)
        text, _, port = text.partition(":")
        if not port:
            return None
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return None
    text = text.split("%", 1)[0]  # zone id of a link-local IPv6 address
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _keyed(raw: str) -> ClientAddress | None:
    address = normalise_address(raw)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_KEY_PREFIX), strict=False)
        return ClientAddress(str(address), str(network))
    return ClientAddress(str(address), str(address))


def _peer(peer: str | None) -> ClientAddress:
    """The peer, normalised when it is an address (test clients and sockets are not)."""
    keyed = _keyed(peer) if peer else None
    if keyed is not None:
        return keyed
    name = (peer or UNKNOWN_ADDRESS).strip()[:_MAX_ADDRESS_LENGTH] or UNKNOWN_ADDRESS
    return ClientAddress(name, name)


def client_address(
    *, peer: str | None, forwarded_for: Sequence[str], trusted_hops: int
) -> ClientAddress:
    """The client given the peer, every ``X-Forwarded-For`` value, and the trusted hops."""
    if trusted_hops > 0:
        entries = [entry for value in forwarded_for for entry in value.split(",") if entry.strip()]
        if entries:
            # Fewer entries than hops means a proxy did not append: take the leftmost we have.
            keyed = _keyed(entries[-min(trusted_hops, len(entries))])
            if keyed is not None:
                return keyed
    return _peer(peer)


def hash_client_address(address: str, key: str) -> str:
    """Hex HMAC-SHA256 of ``address`` under ``key``."""
    return hmac.new(key.encode("utf-8"), address.encode("utf-8"), hashlib.sha256).hexdigest()
