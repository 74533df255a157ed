"""Hashes that keep personal text out of the warehouse, and the question policy.

``question_sha256`` is 0.1.3's function (the plain SHA-256 hex of the UTF-8
text, no normalisation), kept so joins with seed-era data still work. With
``IL_AUDIT_HASH_KEY`` set, :func:`keyed_hash` is an HMAC-SHA-256 instead: a
plain hash of a short text (a common question, an IPv4 address) can be
reversed by trying candidates, a keyed one cannot without the key.

:class:`QuestionPolicy` applies ``IL_AUDIT_STORE_QUERY_TEXT`` to every event
whose payload carries a ``question`` (``emit_chat_turn`` or a plain
``emit``), on the publisher's thread and before the event is encoded, so with
the setting off the text never reaches a message, the spool or a dead letter.

:class:`EmailPseudonyms` applies ``IL_AUDIT_PSEUDONYMIZE_EMAIL`` the same way
to the actor's e-mail, wherever it came from (``emit()`` keyword, context,
beacon actor, chat helpers): see ``docs/pseudonymisation.md``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Final

QUESTION: Final = "question"
RETRIEVAL_QUERY: Final = "retrieval_query"
"""The search text a turn derived from the question: often the question itself."""
ANSWER_EXCERPT: Final = "answer_excerpt"
"""An out-of-scope query's answer: it quotes the question (and the sources)."""
FEEDBACK_COMMENT: Final = "feedback_comment"
"""A ``chat.feedback`` comment: free text a user wrote, often quoting the question."""


def question_sha256(text: str) -> str:
    """The lowercase hex SHA-256 of ``text`` as UTF-8 (64 characters), as 0.1.3 computed it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def keyed_hash(text: str, key: str) -> str:
    """The lowercase hex HMAC-SHA-256 of ``text`` (UTF-8) under ``key``."""
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


ACTOR_EMAIL: Final = "actor_email"
ACTOR_EMAIL_HMAC: Final = "actor_email_hmac"
_PSEUDONYMS_MAX: Final = 1024
"""E-mails whose pseudonym is remembered (an app sees few actors at a time)."""


def default_key_id(key: str) -> str:
    """The id of ``key`` when ``IL_AUDIT_HASH_KEY_ID`` names none: ``k`` + 8 hex of its SHA-256.

    32 bits of a hash of the key: enough to tell keys apart, nothing to recover a
    random key from (a guessable key is weak whatever its id says).
    """
    return "k" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def email_pseudonym(email: str, key: str, key_id: str) -> str:
    """``"<key_id>:<64 hex>"``: the HMAC-SHA-256 under ``key`` of the trimmed, lowercased
    e-mail, so ``" Ann@Example.com"`` and ``"ann@example.com"`` are one person."""
    return f"{key_id}:{keyed_hash(email.strip().lower(), key)}"


@dataclass(frozen=True, slots=True)
class EmailPseudonyms:
    """``IL_AUDIT_PSEUDONYMIZE_EMAIL``: an event's ``actor_email`` becomes ``actor_email_hmac``.

    Without a key (a lenient app whose settings logged that error) the e-mail is
    dropped: never stored in clear once pseudonyms were asked for.
    """

    key: str | None
    key_id: str | None = None

    _known: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def apply(self, data: dict[str, Any]) -> None:
        """Replace ``data``'s ``actor_email`` (an envelope's fields, owned by the caller)."""
        email = data.pop(ACTOR_EMAIL, None)
        if not self.key or type(email) is not str or not email.strip():
            return  # nothing to say about it, or no key to say it with
        pseudonym = self._known.get(email)
        if pseudonym is None:
            pseudonym = email_pseudonym(email, self.key, self.key_id or default_key_id(self.key))
            if len(self._known) >= _PSEUDONYMS_MAX:
                self._known.clear()
            self._known[email] = pseudonym
        data[ACTOR_EMAIL_HMAC] = pseudonym


@dataclass(frozen=True, slots=True)
class QuestionPolicy:
    """What an event may say about a chat question.

    - ``question_length`` (characters) always;
    - without a key, ``question_sha256`` (as the seed wrote it, so joins with
      seed-era rows keep working); with one, ``question_hmac`` and no
      ``question_sha256``;
    - the text itself (``question``, ``retrieval_query`` and ``answer_excerpt``)
      only when ``store_text`` is true;
    - a feedback comment (``feedback_comment``) the same way: its length, its
      hash (``feedback_comment_sha256`` or, with a key, ``feedback_comment_hmac``),
      and its text only when ``store_text`` is true.
    """

    store_text: bool
    hash_key: str | None = None

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with the policy applied (a new dict when anything changes)."""
        if FEEDBACK_COMMENT in payload:
            payload = self._comment(payload)
        if QUESTION not in payload and (
            self.store_text or (RETRIEVAL_QUERY not in payload and ANSWER_EXCERPT not in payload)
        ):
            return payload  # the common case: two lookups
        result = dict(payload)
        question = result.get(QUESTION)
        if isinstance(question, str) and question:
            result["question_length"] = len(question)
            if self.hash_key:
                result["question_hmac"] = keyed_hash(question, self.hash_key)
                result.pop("question_sha256", None)
            else:
                result["question_sha256"] = question_sha256(question)
        elif QUESTION in result:
            del result[QUESTION]  # None or blank: nothing to say about it
        if not self.store_text:
            result.pop(QUESTION, None)
            result.pop(RETRIEVAL_QUERY, None)
            result.pop(ANSWER_EXCERPT, None)
        return result

    def _comment(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The feedback comment by the question rule (length and hash always, text if allowed)."""
        result = dict(payload)
        comment = result.get(FEEDBACK_COMMENT)
        if isinstance(comment, str) and comment:
            result["feedback_comment_length"] = len(comment)
            if self.hash_key:
                result["feedback_comment_hmac"] = keyed_hash(comment, self.hash_key)
            else:
                result["feedback_comment_sha256"] = question_sha256(comment)
        if not self.store_text or not (isinstance(comment, str) and comment):
            del result[FEEDBACK_COMMENT]
        return result
