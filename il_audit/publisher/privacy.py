"""Hashes that keep personal text out of the warehouse: questions and addresses.

``question_sha256`` is 0.1.3's function (the plain SHA-256 hex of the UTF-8
text, no normalisation), kept so joins with seed-era data still work. With
``IL_AUDIT_HASH_KEY`` set, :func:`keyed_hash` is an HMAC-SHA-256 instead: a
plain hash of a short text (a common question, an IPv4 address) can be
reversed by trying candidates, a keyed one cannot without the key.
"""

from __future__ import annotations

import hashlib
import hmac


def question_sha256(text: str) -> str:
    """The lowercase hex SHA-256 of ``text`` as UTF-8 (64 characters), as 0.1.3 computed it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def keyed_hash(text: str, key: str) -> str:
    """The lowercase hex HMAC-SHA-256 of ``text`` (UTF-8) under ``key``."""
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
