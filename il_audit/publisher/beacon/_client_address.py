"""Who is the client: its address through trusted proxies, and the keyed hash we may store.

``X-Forwarded-For`` is believed only as far as the operator says proxies sit in
front of the app (``trusted_proxy_hops``, default 0: the header is ignored and
the peer address is the client). Each trusted proxy appends the address it
received the request from, so with ``n`` hops the client is the ``n``-th entry
from the right; anything further left was written by the client and is ignored.
The seed believed the leftmost entry, which lets any client pick its own
rate-limit key.

Addresses are stored only as an HMAC-SHA256 under ``IL_AUDIT_HASH_KEY``: a
plain hash of an IPv4 address is reversed by trying all 2**32 of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

UNKNOWN_ADDRESS = "unknown"
_MAX_ADDRESS_LENGTH = 64


def client_address(*, peer: str | None, forwarded_for: Sequence[str], trusted_hops: int) -> str:
    """The client's address given the peer, every ``X-Forwarded-For`` value, and the hops."""
    if trusted_hops > 0:
        entries = [
            entry.strip() for value in forwarded_for for entry in value.split(",") if entry.strip()
        ]
        if entries:
            # Fewer entries than hops means a proxy did not append: take the leftmost we have.
            chosen = entries[-min(trusted_hops, len(entries))]
            return chosen[:_MAX_ADDRESS_LENGTH]
    return (peer or UNKNOWN_ADDRESS)[:_MAX_ADDRESS_LENGTH]


def hash_client_address(address: str, key: str) -> str:
    """Hex HMAC-SHA256 of ``address`` under ``key``."""
    return hmac.new(key.encode("utf-8"), address.encode("utf-8"), hashlib.sha256).hexdigest()
