"""chat.model_call.text: opt-in, numbered per turn, up to 10 MiB per text, in parts past 1 MiB."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator

import pytest

from il_audit.chat import chat_turn_usage, emit_model_call_text
from il_audit.chat.model_call_text import PART_TEXT_BYTES
from il_audit.chat.text_parts import MODEL_CALL_TEXT_MAX_BYTES, TRUNCATION_MARKER, cap_text
from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport, set_publisher
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES, Envelope, envelope_json
from tests.support.factories import make_settings

CTX = AuditContext(app="chat", actor_uid="u-1")
MiB = 1 << 20


def text_call(prompt: str, completion: str = "", **fields: object) -> str | None:
    return emit_model_call_text(
        context=CTX, category="qa", operation="generate_content", model_id="m",
        prompt=prompt, completion=completion, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def joined(events: list[Envelope], text_id: str, field: str) -> str:
    """The parts of one text, in part order (checked complete and numbered)."""
    parts = [
        event.payload for event in events
        if event.event_type == T.CHAT_MODEL_CALL_TEXT_PART and event.payload
        and event.payload["text_id"] == text_id and event.payload["text_field"] == field
    ]  # fmt: skip
    assert [part["part_index"] for part in parts] == list(range(len(parts)))
    assert {part["part_count"] for part in parts} <= {len(parts)}
    return "".join(part["text"] for part in parts)


@pytest.fixture
def text_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")


def test_off_by_default() -> None:
    """Without IL_AUDIT_STORE_MODEL_CALL_TEXT nothing is emitted, from either API."""
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="m", input_tokens=1, prompt="p", completion="c")
        assert text_call("p", "c") is None
    # The call itself is still recorded for pricing, as its usage event.
    assert [event.event_type for event in events] == [T.API_USAGE_RECORDED]
    assert len(usage.calls) == 1


@pytest.mark.usefixtures("text_on")
def test_on_each_call_is_one_numbered_event_tied_to_the_turn() -> None:
    """With the setting on: one event per call, sequence 1, 2..., correlated to the turn."""
    with (
        capture_events() as events,
        chat_turn_usage("turn-1", CTX, conversation_session_id="conv-1") as usage,
    ):
        usage.record_model_call(model_id="m", input_tokens=1, prompt="first", completion="a",
                                temperature=0.2, finish_reason="STOP")  # fmt: skip
        usage.record_model_call(model_id="m", input_tokens=1, prompt="second")
    first, second = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    assert len(events) == 4  # and each call's usage event
    assert (first.correlation_id, first.correlation_type, first.session_id) == (
        "turn-1", "chat_turn", "conv-1"
    )  # fmt: skip
    assert first.payload == {
        "sequence": 1, "category": "answer", "operation": "generate_content", "model_id": "m",
        "attempt": 1, "succeeded": True, "temperature": 0.2, "finish_reason": "STOP",
        "prompt": "first", "completion": "a", "prompt_truncated": False,
        "completion_truncated": False,
    }  # fmt: skip
    assert second.payload is not None
    assert second.payload["sequence"] == 2


@pytest.mark.usefixtures("text_on")
@pytest.mark.parametrize("character", ["a", "é", "😀", "\n", "\x01", '"'])
def test_long_texts_travel_in_parts_each_under_the_envelope_limit(character: str) -> None:
    """Whatever the characters (multi-byte, escaped in JSON), 3 MB texts give the call's event
    without its texts and parts under 1 MiB each that join back to the texts."""
    prompt = ("." + character) * 1_500_000
    completion = (character + "!") * 1_000_000
    with capture_events() as events:
        call_id = text_call(prompt, completion, call_id="call-1")
    head, *parts = events
    assert (head.event_id, head.event_type) == (call_id, T.CHAT_MODEL_CALL_TEXT)
    assert head.payload is not None
    assert "prompt" not in head.payload
    assert "completion" not in head.payload
    assert head.payload["prompt_truncated"] is head.payload["completion_truncated"] is False
    assert {part.event_type for part in parts} == {T.CHAT_MODEL_CALL_TEXT_PART}
    assert max(len(envelope_json(event)) for event in events) < MAX_ENVELOPE_BYTES
    text_id = head.payload["text_id"]
    assert joined(parts, text_id, "prompt") == prompt
    assert joined(parts, text_id, "completion") == completion
    assert head.payload["prompt_parts"] + head.payload["completion_parts"] == len(parts)
    # Full parts: a text that is six bytes a character in JSON needs six times the parts.
    size = len(json.dumps(prompt, ensure_ascii=False).encode()) - 2
    assert head.payload["prompt_parts"] == -(-size // PART_TEXT_BYTES)


@pytest.mark.usefixtures("text_on")
def test_texts_are_measured_in_json_bytes_to_decide_on_parts() -> None:
    """450,000 characters could be 2.7 MB of JSON, so they are measured: as 900,000 bytes
    they stay in the call's event, as 1,100,000 bytes (more newlines) they go in parts."""
    newlines = "\n" * 400_000  # 2 bytes each in JSON
    with capture_events() as events:
        text_call(newlines, "é" * 50_000)  # 800,000 + 100,000 bytes
        text_call(newlines, "é" * 150_000)  # 800,000 + 300,000 bytes
    single, split, *parts = events
    assert single.payload is not None
    assert single.payload["prompt"] == newlines
    assert split.payload is not None
    assert "text_id" in split.payload
    assert len(parts) == 2


@pytest.mark.usefixtures("text_on")
def test_a_text_over_10_mib_is_cut_at_a_character_with_the_marker() -> None:
    """§5.17: over MODEL_CALL_TEXT_MAX_BYTES of UTF-8, the text keeps the cap minus the
    marker, cut between characters, then the marker; *_truncated says so."""
    emoji = "😀" * (MODEL_CALL_TEXT_MAX_BYTES // 4 + 1)
    with capture_events() as events:
        text_call("question", emoji)
    head, *parts = events
    assert head.payload is not None
    assert (head.payload["prompt_truncated"], head.payload["completion_truncated"]) == (
        False, True
    )  # fmt: skip
    completion = joined(parts, head.payload["text_id"], "completion")
    assert completion == "😀" * (MODEL_CALL_TEXT_MAX_BYTES // 4 - 4) + TRUNCATION_MARKER
    assert len(completion.encode()) == MODEL_CALL_TEXT_MAX_BYTES - 1  # the cut emoji's byte


def test_cap_text_follows_the_1_0_35_rule() -> None:
    """At the cap a text is kept; one byte over, it is cut to cap - 15 bytes plus the
    15-byte marker, whole characters only."""
    assert MODEL_CALL_TEXT_MAX_BYTES == 10_485_760
    assert len(TRUNCATION_MARKER.encode()) == 15
    assert cap_text("x" * 100, 100) == ("x" * 100, False)
    assert cap_text("x" * 101, 100) == ("x" * 85 + TRUNCATION_MARKER, True)
    assert cap_text("é" * 50, 100) == ("é" * 50, False)
    assert cap_text("é" * 51, 100) == ("é" * 42 + TRUNCATION_MARKER, True)  # 85 is odd
    assert cap_text("€" * 40, 100) == ("€" * 28 + TRUNCATION_MARKER, True)
    assert cap_text("", 100) == ("", False)


def test_surrogates_are_joined_or_replaced_never_sent_as_they_are() -> None:
    """A surrogate pair held as two code points becomes its character; a lone one U+FFFD,
    so the event can be encoded at all."""
    assert cap_text("a\ud83d\ude00b") == ("a😀b", False)
    assert cap_text("a\ud83d b \udc00") == ("a\ufffd b \ufffd", False)


@pytest.mark.usefixtures("text_on")
def test_blank_texts_record_nothing() -> None:
    """Both texts blank (empty or whitespace): no event, as 1.0.35."""
    with capture_events() as events:
        assert text_call("  \n", "") is None
        assert text_call("", "\t") is None
    assert len(events) == 0


@pytest.mark.usefixtures("text_on")
def test_on_it_stores_the_prompt_even_with_query_text_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The question policy covers the turn's question, not prompts: a prompt that quotes the
    question is stored as written when model-call text is on."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    question = "What is my salary?"
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="m", input_tokens=1, prompt=f"Question: {question}")
    [event] = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    assert event.payload is not None
    assert event.payload["prompt"] == f"Question: {question}"


@pytest.fixture
def memory_publisher() -> Iterator[AuditPublisher]:
    """A default publisher that keeps its messages in memory, with model-call text on."""
    publisher = AuditPublisher(
        make_settings(store_model_call_text=True), transport=MemoryTransport(max_messages=None)
    )
    previous = set_publisher(publisher)
    try:
        yield publisher
    finally:
        set_publisher(previous)
        publisher.shutdown(10)


def caller_cpu_ms(prompt: str, completion: str = "") -> float:
    """CPU time of this thread (not of the publisher's) for one call, in ms."""
    started = time.thread_time()
    assert text_call(prompt, completion) is not None
    return (time.thread_time() - started) * 1000


def test_an_ordinary_call_costs_the_caller_microseconds(memory_publisher: AuditPublisher) -> None:
    """A 20 KB prompt and a 2 KB non-ASCII answer: no text is measured or split on the
    caller's thread, so a call costs tens of microseconds (measured ~20 µs; bound 250 µs)."""
    prompt = "Context: the handbook says 25 days.\n" * 550
    completion = "Vous avez droit à 25 jours de congés payés. " * 45
    costs = [caller_cpu_ms(prompt, completion) for _ in range(300)]
    assert memory_publisher.flush(30).complete
    assert statistics.median(costs) < 0.25, statistics.median(costs)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * (10 * MiB), id="ascii"),
        pytest.param("\x01" * (10 * MiB), id="control"),
        pytest.param("😀" * (10 * MiB // 4), id="emoji"),
    ],
)
def test_a_10_mib_text_costs_the_caller_milliseconds(
    memory_publisher: AuditPublisher, text: str
) -> None:
    """Capping and splitting 10 MiB happens on the caller's thread, a megabyte at a time:
    measured 11 ms (ASCII) to 20-40 ms (control characters, emoji, mixed scripts) on the
    development machine; bound 1 s, so only a change of kind (a quadratic cut) fails."""
    assert caller_cpu_ms(text) < 1000
    assert memory_publisher.flush(60).complete
