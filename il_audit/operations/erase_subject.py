"""Who an erasure is about: the subject, its keyed hash, and how its rows are recognised.

The subject is never written anywhere in clear: the erasure event records
:func:`subject_hash` (HMAC-SHA-256 under ``IL_AUDIT_HASH_KEY`` of ``uid:<uid>`` or
``email:<normalised email>``), and the output shows only that hash.

A row belongs to the subject when one of its *role* columns holds the identifier: for a
uid the identifier columns named ``<role>_uid`` (``actor_uid``, ``reporter_uid``...), for an
e-mail the contact columns named ``<role>_email`` (compared case-insensitively, as
addresses are). The role ``actor`` makes the whole row the subject's; any other role
(a reporter, a file owner) only that role's columns (:func:`role_columns`).

An e-mail subject also matches the pseudonym ``IL_AUDIT_PSEUDONYMIZE_EMAIL`` stored
instead of the address (``actor_email_hmac``, ``<key id>:<HMAC>``), when the caller
computed it with the current key (:meth:`Subject.with_email_pseudonym`): rows
pseudonymised under an earlier key are found by ``--actor-uid`` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from il_audit.operations.errors import ErasureError
from il_audit.publisher.privacy import default_key_id, email_pseudonym, keyed_hash
from il_audit.schemas.errors import UntaggedColumnError
from il_audit.schemas.personal_data import Category, personal_data

ACTOR: Final = "actor"
"""The role whose match makes a whole row the subject's."""
PSEUDONYM_PREFIX: Final = "erased:"
"""An erased ``actor_uid`` becomes ``erased:<erasure id>``."""

Kind = Literal["uid", "email"]
_SUFFIX: Final[Mapping[Kind, tuple[str, Category]]] = {
    "uid": ("_uid", Category.IDENTIFIER),
    "email": ("_email", Category.CONTACT),
}
_PSEUDONYM_SUFFIX: Final = "_hmac"
"""``<role>_email_hmac``: the keyed pseudonym stored instead of ``<role>_email``."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The person to erase: an actor uid or an e-mail address (never logged, never stored)."""

    kind: Kind
    value: str
    email_pseudonym: str | None = None
    """The ``actor_email_hmac`` of this e-mail under the current key (None: not looked for)."""

    @classmethod
    def of(cls, *, uid: str | None = None, email: str | None = None) -> Subject:
        """Exactly one of ``uid`` and ``email``; an e-mail is stripped and lower-cased."""
        if (uid is None) == (email is None):
            raise ErasureError("give exactly one of --actor-uid and --actor-email")
        if uid is not None:
            if not uid.strip():
                raise ErasureError("--actor-uid is empty")
            return cls("uid", uid)
        assert email is not None
        normalised = email.strip().lower()
        if "@" not in normalised:
            raise ErasureError("--actor-email is not an e-mail address")
        return cls("email", normalised)

    def with_email_pseudonym(self, pseudonym: str | None) -> Subject:
        """This e-mail subject, also recognised by its pseudonym (a uid subject: unchanged)."""
        if self.kind != "email" or not pseudonym:
            return self
        return Subject(self.kind, self.value, pseudonym)

    def term_value(self, column: str) -> str:
        """What ``column`` holds when it names this subject (its pseudonym for a hash column)."""
        if column.endswith(_PSEUDONYM_SUFFIX) and self.email_pseudonym:
            return self.email_pseudonym
        return self.value

    def __repr__(self) -> str:  # never the value: a repr ends up in tracebacks and logs
        return f"Subject(kind={self.kind!r}, value=<hidden>)"

    __str__ = __repr__

    @property
    def suffix(self) -> str:
        """``_uid`` or ``_email``: the ending of the columns that can hold it."""
        return _SUFFIX[self.kind][0]

    def matches(self, value: Any) -> bool:
        """Whether a column's value is this subject's identifier."""
        if not isinstance(value, str):
            return False
        if self.kind == "email":
            # A pseudonym (``k…:<hex>``) can never equal an address, so one test serves both.
            return value.strip().lower() == self.value or value == self.email_pseudonym
        return value == self.value

    def matches_envelope(self, envelope: Any) -> bool:
        """Whether a JSON object (an envelope line) names the subject as its actor."""
        if not isinstance(envelope, dict):
            return False
        if self.matches(envelope.get(f"{ACTOR}{self.suffix}")):
            return True
        return bool(self.email_pseudonym) and self.matches(
            envelope.get(f"{ACTOR}{self.suffix}{_PSEUDONYM_SUFFIX}")
        )

    @property
    def needle(self) -> str:
        """The identifier as it appears inside JSON text (quoted; lower-case for e-mail)."""
        return json.dumps(self.value, ensure_ascii=False)

    @property
    def needles(self) -> tuple[str, ...]:
        """:attr:`needle`, and the pseudonym as it appears inside JSON text when known."""
        if self.email_pseudonym:
            return (self.needle, json.dumps(self.email_pseudonym))
        return (self.needle,)

    def matches_raw(self, raw: str | None) -> bool:
        """Whether a dead letter's raw text carries the subject as the actor of a line.

        A dead letter holds one line, or the whole message (several NDJSON lines) when
        the message itself failed; a line cut to fit may not parse, and then the quoted
        identifier anywhere in it counts (the safe side: erasing too much of a reject).
        """
        if not raw:
            return False
        for line in raw.splitlines() or [raw]:
            try:
                parsed = json.loads(line)
            except ValueError:
                text = line.lower() if self.kind == "email" else line
                if any(needle in text for needle in self.needles):
                    return True
                continue
            if self.matches_envelope(parsed):
                return True
        return False


def recognising_pseudonym(subject: Subject, key: str | None, key_id: str | None) -> Subject:
    """``subject``, also recognised by the e-mail pseudonym the current key gives it
    (``IL_AUDIT_HASH_KEY``, ``IL_AUDIT_HASH_KEY_ID``); unchanged without a key or for a uid."""
    if subject.kind != "email" or not key:
        return subject
    return subject.with_email_pseudonym(
        email_pseudonym(subject.value, key, key_id or default_key_id(key))
    )


def subject_hash(subject: Subject, key: str | None) -> str:
    """The keyed hash the erasure event records instead of the subject.

    Raises :class:`ErasureError` without a key: the subject is never recorded in clear.
    """
    if not key:
        raise ErasureError(
            "set IL_AUDIT_HASH_KEY: the erasure record names its subject only by a keyed hash"
        )
    return keyed_hash(f"{subject.kind}:{subject.value}", key)


def pseudonym(erasure_id: str) -> str:
    """What an erased ``actor_uid`` becomes."""
    return f"{PSEUDONYM_PREFIX}{erasure_id}"


def role_match_columns(relation: str, columns: Iterable[str], subject: Subject) -> dict[str, str]:
    """``{column: role}`` of the columns of ``relation`` that can hold the subject's identifier.

    Columns the inventory does not know are skipped here (the inventory test catches them).
    """
    suffix, category = _SUFFIX[subject.kind]
    found: dict[str, str] = {}
    for column in columns:
        if subject.email_pseudonym and column.endswith(suffix + _PSEUDONYM_SUFFIX):
            found[column] = column.removesuffix(suffix + _PSEUDONYM_SUFFIX)
            continue
        if not column.endswith(suffix):
            continue
        try:
            tag = personal_data(relation, column)
        except UntaggedColumnError:
            continue
        if tag.category is category:
            found[column] = column.removesuffix(suffix)
    return found


def role_columns(relation: str, columns: Iterable[str], role: str) -> list[str]:
    """The personal columns of ``relation`` that belong to ``role`` (named ``<role>_...``)."""
    chosen = []
    for column in columns:
        if not column.startswith(f"{role}_"):
            continue
        try:
            if personal_data(relation, column).personal:
                chosen.append(column)
        except UntaggedColumnError:
            chosen.append(column)  # unknown and named after the role: the safe side
    return chosen
