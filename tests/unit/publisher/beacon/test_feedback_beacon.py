"""ui.chat.feedback: a page's verdict through the beacon router, as emit_chat_feedback writes it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import BeaconEventItem, schedule_beacon_rows
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="web", actor_uid="u-1")
VERDICT = {"turn_id": "turn-1", "name": "thumbs", "value": False, "comment": "Wrong year.",
           "conversation_id": "conv-1"}  # fmt: skip


def test_a_feedback_item_is_the_verdict_emit_chat_feedback_writes() -> None:
    """The same payload and correlation as emit_chat_feedback, from the beacon source."""
    item = BeaconEventItem.model_validate({"event_type": T.UI_CHAT_FEEDBACK, "feedback": VERDICT})
    with capture_events() as events:
        assert schedule_beacon_rows(context=CTX, events=[item]) == 1
    [event] = events
    assert (event.event_type, event.source, event.session_id) == (
        "ui.chat.feedback", "beacon", "conv-1"
    )  # fmt: skip
    assert (event.correlation_id, event.correlation_type) == ("turn-1", "chat_turn")
    assert (event.resource_type, event.resource_id) == ("chat_turn", "turn-1")
    payload = event.payload
    assert {k: payload[k] for k in ("name", "value_type", "value_bool", "score", "negative")} == {
        "name": "thumbs", "value_type": "boolean", "value_bool": False, "score": 0.0,
        "negative": True,
    }  # fmt: skip
    assert payload["feedback_comment_length"] == len("Wrong year.")
    assert "feedback" not in payload  # the raw object never travels: only its fields, by the rule


@pytest.mark.parametrize(
    ("feedback", "message"),
    [
        (None, "needs a feedback object"),
        ({**VERDICT, "value": None}, "value must be"),
        ({**VERDICT, "turn_id": ""}, "turn_id must be"),
        ({**VERDICT, "rating": 5}, "may only have the keys"),
        ({"turn_id": "t"}, "feedback:"),
    ],
)
def test_an_invalid_verdict_is_refused_with_its_rule(feedback: Any, message: str) -> None:
    """The router refuses the item (422) with the rule, never the value."""
    with pytest.raises(ValidationError, match=message) as caught:
        BeaconEventItem.model_validate({"event_type": T.UI_CHAT_FEEDBACK, "feedback": feedback})
    assert "Wrong year" not in str(caught.value)


def test_raw_items_without_a_valid_verdict_are_skipped() -> None:
    """schedule_beacon_rows called by a host with raw dicts: a bad verdict is skipped, the
    rest go through."""
    with capture_events() as events:
        accepted = schedule_beacon_rows(context=CTX, events=[
            {"event_type": T.UI_CHAT_FEEDBACK},
            {"event_type": T.UI_CHAT_FEEDBACK, "feedback": {**VERDICT, "name": " "}},
            {"event_type": T.UI_CHAT_FEEDBACK, "feedback": VERDICT},
        ])  # fmt: skip
    assert accepted == 1
    assert [event.correlation_id for event in events] == ["turn-1"]
