"""The question policy keeps out of events what the inventory says it keeps out.

The keys come from the inventory, not from a list here: every payload key a view reads that
is tagged *text only with IL_AUDIT_STORE_QUERY_TEXT*, or a plain or keyed hash under
IL_AUDIT_HASH_KEY. A new key tagged so and not handled by ``QuestionPolicy`` fails here.
"""

from __future__ import annotations

from il_audit.operations.privacy_inventory import payload_reads
from il_audit.publisher.privacy import QuestionPolicy
from il_audit.schemas.personal_data import COLUMN_TAGS, Category, Stored

STORE_QUERY_TEXT = "IL_AUDIT_STORE_QUERY_TEXT"
HASH_KEY = "IL_AUDIT_HASH_KEY"
TEXT = "is Ann Smith on leave after the März reorganisation?"


def _keys(stored: Stored, setting: str) -> set[str]:
    """Payload keys the views read whose tag is stored so under ``setting``."""
    return {
        read.key
        for read in payload_reads()
        if COLUMN_TAGS[read.key].stored is stored and COLUMN_TAGS[read.key].setting == setting
    }


def _texts() -> set[str]:
    return _keys(Stored.TEXT_IF_ENABLED, STORE_QUERY_TEXT)


def _payload() -> dict[str, str]:
    """Every governed text key holding ``TEXT``: the question and the comment drive the hashes."""
    return dict.fromkeys(_texts(), TEXT)


def test_the_inventory_names_the_texts_the_policy_governs() -> None:
    """Not vacuous: the question, its derived texts and the feedback comment are tagged so."""
    assert {"question", "retrieval_query", "answer_excerpt", "feedback_comment"} <= _texts()
    assert all(COLUMN_TAGS[key].category is Category.FREE_TEXT for key in _texts())


def test_with_text_off_no_governed_text_is_left() -> None:
    """store_text=False drops every key tagged text-only-with IL_AUDIT_STORE_QUERY_TEXT."""
    for key in (None, "k" * 32):
        result = QuestionPolicy(store_text=False, hash_key=key).apply(_payload())
        assert _texts() & set(result) == set(), key
        assert TEXT not in result.values()


def test_with_text_on_the_texts_stay() -> None:
    """store_text=True keeps them, as the inventory's 'text only when on' says."""
    result = QuestionPolicy(store_text=True).apply(_payload())
    assert _texts() <= set(result)


def test_plain_hashes_only_without_a_key_and_keyed_ones_only_with_it() -> None:
    """Keys tagged SHA-256 'only while IL_AUDIT_HASH_KEY is unset' and HMAC 'absent without
    it' appear exactly as tagged."""
    plain, keyed = _keys(Stored.HASHED, HASH_KEY), _keys(Stored.KEYED_HASH, HASH_KEY)
    assert {"question_sha256", "feedback_comment_sha256"} <= plain
    assert {"question_hmac", "feedback_comment_hmac"} <= keyed
    without_key = QuestionPolicy(store_text=False).apply(_payload())
    with_key = QuestionPolicy(store_text=False, hash_key="k" * 32).apply(_payload())
    assert plain <= set(without_key)
    assert keyed & set(without_key) == set()
    assert keyed <= set(with_key)
    assert plain & set(with_key) == set()
