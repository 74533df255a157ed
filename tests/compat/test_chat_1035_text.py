"""A 1.0.35 chat host's model-call text and JSON helpers work here as the facts sheet says.

Written from `reference-api-facts.md` §5.1 (``audit_json_default``,
``dumps_audit_json``, ``emit_model_call_text``), §5.16 (``chat_question_fields``),
§5.17 (the model-call text rules) and Appendix A (``il_audit.builders.chat_builder``).
Deliberate differences are in docs/migrating.md's migration table, which this file checks.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import inspect
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import il_audit
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope

MIGRATING = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
CTX = il_audit.AuditContext(app="chat", actor_uid="u-1")

# §5.1: emit_model_call_text's keywords in 1.0.35, and the defaults it gives.
EMIT_MODEL_CALL_TEXT_1035 = {
    "context": inspect.Parameter.empty, "conversation_id": inspect.Parameter.empty,
    "correlation_id": inspect.Parameter.empty, "correlation_type": inspect.Parameter.empty,
    "sequence": inspect.Parameter.empty, "category": inspect.Parameter.empty,
    "operation": inspect.Parameter.empty, "model_id": inspect.Parameter.empty,
    "prompt": inspect.Parameter.empty, "completion": inspect.Parameter.empty,
    "call_id": None, "attempt": 1, "succeeded": True, "error_type": None,
    "prompt_source": None, "temperature": None, "thinking_level": None,
    "thought_tokens": None, "cached_tokens": None, "finish_reason": None,
}  # fmt: skip
REQUIRED_1035 = {name for name, default in EMIT_MODEL_CALL_TEXT_1035.items()
                 if default is inspect.Parameter.empty}  # fmt: skip


class Colour(enum.Enum):
    RED = "red"
    ONE = 1


def migration_table() -> str:
    text = MIGRATING.read_text("utf-8")
    start = text.index("# Coming from il-audit 0.1.3")
    return text[start : text.index("## The 0.1.3 tables, as views")]


def one_call(**overrides: Any) -> Envelope:
    """emit_model_call_text with 1.0.35's required keywords (and ``overrides``), captured."""
    keywords: dict[str, Any] = {
        "context": CTX, "conversation_id": "conv-1", "correlation_id": "turn-1",
        "correlation_type": "chat_turn", "sequence": 1, "category": "qa",
        "operation": "generate_content", "model_id": "gemini-2.5-flash-lite",
        "prompt": "Question: how many days off?", "completion": "25 days.",
    }  # fmt: skip
    keywords.update(overrides)
    with capture_events() as events:
        il_audit.emit_model_call_text(**keywords)
    [event] = events
    return event


# ----------------------------------------------------------------- §5.1 JSON helpers


def test_the_json_helpers_are_root_names_with_1035_signatures() -> None:
    """`audit_json_default(value: object) -> object` and `dumps_audit_json(value: Any) -> str`
    are in `il_audit.__all__`."""
    assert {"audit_json_default", "dumps_audit_json"} <= set(il_audit.__all__)
    default = inspect.signature(il_audit.audit_json_default)
    dumps = inspect.signature(il_audit.dumps_audit_json)
    assert [(p.name, p.annotation) for p in default.parameters.values()] == [("value", "object")]
    assert default.return_annotation == "object"
    assert [(p.name, p.annotation) for p in dumps.parameters.values()] == [("value", "Any")]
    assert dumps.return_annotation == "str"


def test_audit_json_default_turns_dates_uuids_and_enums_into_json() -> None:
    """datetime and date become `.isoformat()`, UUID str, Enum `.value`."""
    moment = datetime(2026, 8, 31, 9, 30, 5, 120000, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert il_audit.audit_json_default(moment) == "2026-08-31T09:30:05.120000+00:00"
    assert il_audit.audit_json_default(datetime(2026, 8, 31)) == "2026-08-31T00:00:00"
    assert il_audit.audit_json_default(date(2026, 8, 31)) == "2026-08-31"
    assert il_audit.audit_json_default(ident) == "12345678-1234-5678-1234-567812345678"
    assert il_audit.audit_json_default(Colour.RED) == "red"
    assert il_audit.audit_json_default(Colour.ONE) == 1


@pytest.mark.parametrize("value", [Decimal("1.5"), {1, 2}, b"bytes", object()])
def test_audit_json_default_refuses_anything_else(value: object) -> None:
    """Anything but those raises TypeError."""
    with pytest.raises(TypeError):
        il_audit.audit_json_default(value)


def test_dumps_audit_json_is_json_dumps_with_the_default_and_no_ascii_escaping() -> None:
    """`json.dumps(value, ensure_ascii=False, default=audit_json_default)`: json's own
    separators, text as it is, the default's values nested anywhere."""
    value = {"q": "Où est le café ? 😀", "at": [date(2026, 1, 2)], "c": Colour.RED, "n": None}
    assert il_audit.dumps_audit_json(value) == (
        '{"q": "Où est le café ? 😀", "at": ["2026-01-02"], "c": "red", "n": null}'
    )
    assert il_audit.dumps_audit_json(value) == json.dumps(
        value, ensure_ascii=False, default=il_audit.audit_json_default
    )
    with pytest.raises(TypeError):
        il_audit.dumps_audit_json({"price": Decimal("0.1")})


# ------------------------------------------------------------------ §5.16 questions


def test_chat_builder_has_chat_question_fields_with_its_1035_signature() -> None:
    """`il_audit.builders.chat_builder.chat_question_fields(question: str | None)
    -> dict[str, str | None]`."""
    from il_audit.builders.chat_builder import chat_question_fields

    signature = inspect.signature(chat_question_fields)
    assert [(p.name, p.annotation) for p in signature.parameters.values()] == [
        ("question", "str | None")
    ]
    assert signature.return_annotation == "dict[str, str | None]"


def test_chat_question_fields_follows_the_question_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """No question: both None. Text on (the default): the raw text and its SHA-256. Text
    off: no text, the SHA-256 still written."""
    from il_audit.builders.chat_builder import chat_question_fields

    question = "  How many days off do I get?\n"  # kept unmodified
    digest = hashlib.sha256(question.encode("utf-8")).hexdigest()
    none = {"question": None, "question_sha256": None}
    assert chat_question_fields(None) == chat_question_fields("") == none
    assert chat_question_fields(question) == {"question": question, "question_sha256": digest}
    assert chat_question_fields("hello")["question_sha256"] == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    reset()
    assert chat_question_fields(question) == {"question": None, "question_sha256": digest}
    assert chat_question_fields("") == none


@pytest.mark.parametrize(
    "name",
    ["build_chat_turn_row", "build_chat_session_row", "build_chat_visit_session_row",
     "build_out_of_scope_query_row"],
)  # fmt: skip
def test_the_row_builders_are_dropped_and_the_migration_table_says_so(name: str) -> None:
    """Appendix A's `build_*_row` are not kept (the views compute those rows from events):
    absent from the module, named in the migration table."""
    module = importlib.import_module("il_audit.builders.chat_builder")
    assert not hasattr(module, name)
    assert name in migration_table()


# ------------------------------------------------------------ §5.1 / §5.17 model-call text


def test_emit_model_call_text_takes_1035_s_keywords_and_defaults() -> None:
    """Every 1.0.35 parameter is keyword-only with 1.0.35's default; those 1.0.35 requires
    may be given (ours default the context, ids, sequence and completion)."""
    parameters = inspect.signature(il_audit.emit_model_call_text).parameters
    assert set(parameters) == set(EMIT_MODEL_CALL_TEXT_1035)
    assert {p.kind for p in parameters.values()} == {inspect.Parameter.KEYWORD_ONLY}
    for name, default in EMIT_MODEL_CALL_TEXT_1035.items():
        if default is not inspect.Parameter.empty:
            assert parameters[name].default == default, name
    assert {name for name, p in parameters.items() if p.default is p.empty} <= REQUIRED_1035


def test_model_call_text_is_off_unless_asked_for_a_deliberate_difference() -> None:
    """1.0.35 stored the text by default; here IL_AUDIT_STORE_MODEL_CALL_TEXT defaults to false
    (a prompt holds the question), and the migration table says so."""
    with capture_events() as events:
        assert il_audit.emit_model_call_text(
            context=CTX, conversation_id=None, correlation_id=None, correlation_type=None,
            sequence=1, category="qa", operation="generate_content", model_id=None,
            prompt="p", completion="c",
        ) is None  # fmt: skip
    assert len(events) == 0
    assert il_audit.get_audit_settings().store_model_call_text is False
    assert "IL_AUDIT_STORE_MODEL_CALL_TEXT" in migration_table()


@pytest.fixture
def text_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")


@pytest.mark.usefixtures("text_on")
def test_blank_strings_become_none_and_counters_are_at_least_1() -> None:
    """§5.17: blank conversation_id, correlation_id, correlation_type, model_id, error_type,
    prompt_source, thinking_level and finish_reason are None; sequence and attempt >= 1."""
    event = one_call(
        conversation_id="", correlation_id=" ", correlation_type="", model_id="\t",
        error_type="", prompt_source=" ", thinking_level="", finish_reason="",
        sequence=0, attempt=-2,
    )  # fmt: skip
    assert (event.session_id, event.correlation_id, event.correlation_type) == (None,) * 3
    payload = event.payload or {}
    for name in ("model_id", "error_type", "prompt_source", "thinking_level", "finish_reason"):
        assert name not in payload, name
    assert (payload["sequence"], payload["attempt"]) == (1, 1)


@pytest.mark.usefixtures("text_on")
def test_call_id_is_the_one_given_else_a_fresh_uuid() -> None:
    """`call_id` is the event id when given; otherwise a new UUID (ours is time-ordered)."""
    assert one_call(call_id="call-7").event_id == "call-7"
    first, second = one_call().event_id, one_call(call_id="").event_id
    assert first != second
    assert {uuid.UUID(first).version, uuid.UUID(second).version} == {7}


@pytest.mark.usefixtures("text_on")
def test_both_texts_blank_after_capping_record_nothing() -> None:
    """Nothing is written when prompt and completion are both blank."""
    with capture_events() as events:
        il_audit.emit_model_call_text(
            context=CTX, conversation_id="c", correlation_id="t", correlation_type="chat_turn",
            sequence=1, category="qa", operation="generate_content", model_id="m",
            prompt=" \n", completion="",
        )  # fmt: skip
    assert len(events) == 0


@pytest.mark.usefixtures("text_on")
def test_each_text_is_capped_at_10_mib_with_the_marker() -> None:
    """MODEL_CALL_TEXT_MAX_BYTES = 10485760; a text over it keeps the cap minus the marker's
    UTF-8 length, cut at a character, then "\\n…[truncated]"; *_truncated is true."""
    from il_audit.chat import MODEL_CALL_TEXT_MAX_BYTES

    assert MODEL_CALL_TEXT_MAX_BYTES == 10_485_760
    marker = "\n…[truncated]"
    prompt = "é" * (MODEL_CALL_TEXT_MAX_BYTES // 2) + "!"
    with capture_events() as events:
        il_audit.emit_model_call_text(
            context=CTX, conversation_id="c", correlation_id="t", correlation_type="chat_turn",
            sequence=1, category="qa", operation="generate_content", model_id="m",
            prompt=prompt, completion="fine",
        )  # fmt: skip
    head, *parts = events
    assert head.payload is not None
    assert (head.payload["prompt_truncated"], head.payload["completion_truncated"]) == (
        True, False
    )  # fmt: skip
    text = "".join(
        (part.payload or {})["text"] for part in parts
        if (part.payload or {})["text_field"] == "prompt"
    )  # fmt: skip
    kept = (MODEL_CALL_TEXT_MAX_BYTES - len(marker.encode())) // 2  # whole 2-byte characters
    assert text == "é" * kept + marker
    assert {part.event_type for part in parts} == {T.CHAT_MODEL_CALL_TEXT_PART}
