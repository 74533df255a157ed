"""Visit and conversation beacons: the handlers (facts sheet §5.10) and the router's step 8."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from il_audit import handle_visit_session_beacon_events
from il_audit.beacon_conversation import handle_conversation_beacon_events
from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import handlers
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from tests.support.beacon import beacon_client, item

CTX = AuditContext(app="chat", actor_uid="u-1", source="beacon")


def _payloads(events: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(event.event_type, dict(event.payload or {})) for event in events]


def test_visit_start_and_end_become_visit_events() -> None:
    """Both spellings; the end carries float duration, int counts and the reason."""
    with capture_events() as events:
        handle_visit_session_beacon_events(CTX, [
            {"event_type": "ui.visit.started", "metadata": {"visit_session_id": "v-1"}},
            {"event_type": "ui.chat.visit.ended", "interaction": "click",
             "metadata": {"visit_session_id": " v-1 ", "duration_seconds": "12.5",
                          "turn_count": 3, "conversation_count": 2.0,
                          "ended_reason": "logout"}},
        ])  # fmt: skip
    assert _payloads(events) == [
        (T.CHAT_VISIT_STARTED, {"visit_session_id": "v-1"}),
        (T.CHAT_VISIT_ENDED, {"visit_session_id": "v-1", "duration_seconds": 12.5,
                              "turn_count": 3, "conversation_count": 2,
                              "ended_reason": "logout"}),
    ]  # fmt: skip
    assert {event.actor_uid for event in events} == {"u-1"}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"interaction": "page_unload", "metadata": {"ended_reason": "  "}}, "page_unload"),
        ({"metadata": {}}, "unknown"),
    ],
)
def test_visit_end_reason_falls_back_to_interaction_then_unknown(
    event: dict[str, Any], reason: str
) -> None:
    event = {**event, "event_type": "ui.visit.ended", "visit_session_id": "v-2"}
    with capture_events() as events:
        handle_visit_session_beacon_events(CTX, [event])
    assert events[0].payload["ended_reason"] == reason
    assert events[0].payload["visit_session_id"] == "v-2"  # the top-level key, for host dicts


def test_visit_events_without_an_id_and_other_types_are_skipped() -> None:
    """No id (or a blank one), another type, a non-dict: nothing emitted; bad numbers left out."""
    with capture_events() as events:
        handle_visit_session_beacon_events(CTX, [
            {"event_type": "ui.visit.started", "metadata": {}},
            {"event_type": "ui.visit.ended", "metadata": {"visit_session_id": " "}},
            {"event_type": "ui.tab.viewed", "metadata": {"visit_session_id": "v-3"}},
            "not a dict",  # type: ignore[list-item]
            {"event_type": "ui.visit.ended", "metadata": {"visit_session_id": "v-3",
             "duration_seconds": "soon", "turn_count": -1, "conversation_count": True}},
        ])  # fmt: skip
    assert _payloads(events) == [
        (T.CHAT_VISIT_ENDED, {"visit_session_id": "v-3", "ended_reason": "unknown"})
    ]


def test_conversation_start_and_end_become_session_events() -> None:
    """Both spellings; the id from metadata, the resource id, then metadata.resource_id."""
    with capture_events() as events:
        handle_conversation_beacon_events(CTX, [
            {"event_type": "ui.chat.conversation.started", "resource_id": "c-1",
             "metadata": {"conversation_started_at": "2026-12-01T10:00:00Z", "turn_count": 0,
                          "visit_session_id": "v-1"}},
            {"event_type": "ui.chat.session.ended", "resource_id": "ignored",
             "metadata": {"conversation_id": "c-1", "turn_count": 2, "message_count": 4,
                          "started_at": "2026-12-01T10:00:00Z"}},
            {"event_type": "ui.chat.session.started", "metadata": {"resource_id": "c-2"}},
            {"event_type": "ui.chat.conversation.ended", "interaction": "new_chat",
             "metadata": {}},  # no id: skipped
        ])  # fmt: skip
    assert [(event.event_type, event.session_id) for event in events] == [
        (T.CHAT_SESSION_STARTED, "c-1"),
        (T.CHAT_SESSION_ENDED, "c-1"),
        (T.CHAT_SESSION_STARTED, "c-2"),
    ]
    assert [dict(event.payload or {}) for event in events] == [
        {"started_at": "2026-12-01T10:00:00Z", "turn_count": 0, "visit_session_id": "v-1"},
        {"ended_reason": "unknown", "turn_count": 2, "user_message_count": 2,
         "message_count": 4, "started_at": "2026-12-01T10:00:00Z"},
        {},
    ]  # fmt: skip


def _visit_and_conversation() -> list[dict[str, Any]]:
    return [
        item(event_type="ui.visit.started", metadata={"visit_session_id": "v-9"}),
        item(event_type="ui.chat.conversation.started", resource_id="c-9"),
    ]


def test_router_runs_visit_then_conversation_handler_then_on_events_scheduled() -> None:
    """After the ui.* items: the visit's event, the conversation's, then the host's hook."""
    from il_audit import emit

    def on_scheduled(context: AuditContext, _items: list[dict[str, Any]]) -> None:
        emit("ui.tab.viewed", context=context, surface="hook")

    client = beacon_client(on_events_scheduled=on_scheduled)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": _visit_and_conversation()})
    assert response.json() == {"status": "ok", "accepted": 2}
    assert [event.event_type for event in events] == [
        "ui.visit.started", "ui.chat.conversation.started",
        T.CHAT_VISIT_STARTED, T.CHAT_SESSION_STARTED, "ui.tab.viewed",
    ]  # fmt: skip
    assert {event.source for event in events} == {"beacon"}


def test_router_runs_no_handler_when_nothing_was_accepted() -> None:
    """An empty batch: no handler, no hook."""
    calls: list[Any] = []
    client = beacon_client(on_events_scheduled=lambda *args: calls.append(args))
    with capture_events() as events:
        client.post("/api/audit/beacon", json={"events": []})
    assert (list(events), calls) == ([], [])


@pytest.mark.parametrize(
    ("emitter", "handler", "survivor"),
    [
        ("emit_chat_visit_session", "handle_visit_session_beacon_events",
         T.CHAT_SESSION_STARTED),
        ("emit_chat_session", "handle_conversation_beacon_events", T.CHAT_VISIT_STARTED),
    ],
)  # fmt: skip
def test_each_handler_s_error_is_logged_by_type_and_swallowed(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    emitter: str,
    handler: str,
    survivor: str,
) -> None:
    """A failing handler: the other handler and the hook still run, the answer is ok, and
    the log names the handler and the error type, never the items."""

    def broken(**_fields: Any) -> None:
        raise RuntimeError("secret-id v-9 c-9")

    monkeypatch.setattr(handlers, emitter, broken)
    calls: list[Any] = []
    client = beacon_client(on_events_scheduled=lambda *args: calls.append(args))
    with caplog.at_level(logging.ERROR), capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": _visit_and_conversation()})
    assert response.json() == {"status": "ok", "accepted": 2}
    assert [event.event_type for event in events][2:] == [survivor]
    assert len(calls) == 1
    assert f"{handler} raised RuntimeError" in caplog.text
    assert "v-9" not in caplog.text
    assert "c-9" not in caplog.text
