"""1.0.35's ``chat_question_fields``: a chat question as the columns a row stores (§5.16).

``question`` is the text when ``IL_AUDIT_STORE_QUERY_TEXT`` is on (the
default) and None when it is off; ``question_sha256`` is always the plain
SHA-256 of the UTF-8 text (64 lowercase hex characters, as 0.1.3 and 1.0.35
computed it), so rows join on it whatever the setting. No question (None or
empty) gives None for both.

The turn emitters (``emit_chat_turn``) do not need this: the publisher applies
the same rule to every payload ``question`` before encoding, and with
``IL_AUDIT_HASH_KEY`` set writes ``question_hmac`` instead of the plain hash.
This function keeps 1.0.35's answer (the plain SHA-256) for hosts that build
their own rows with it.
"""

from __future__ import annotations

from il_audit.publisher import get_publisher
from il_audit.publisher.privacy import question_sha256

__all__ = ["chat_question_fields"]


def chat_question_fields(question: str | None) -> dict[str, str | None]:
    """``{"question": ..., "question_sha256": ...}`` for ``question``, by the question rule."""
    if not question:
        return {"question": None, "question_sha256": None}
    store_text = get_publisher().settings.store_query_text
    return {
        "question": question if store_text else None,
        "question_sha256": question_sha256(question),
    }
