"""The plan `infra apply` prints: each changed field before and after, and delivery changes."""

from __future__ import annotations

from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.operations.plan import Change, FieldChange, Plan
from il_audit.operations.pubsub_resources import PULL, _delivery_change

SUB = "projects/p/subscriptions/t-sub"


def test_an_update_line_shows_every_field_before_and_after() -> None:
    change = Change(
        "subscription",
        SUB,
        "update",
        fields=(
            FieldChange("push_endpoint", "http://127.0.0.1:42289/", PULL),
            FieldChange("retry_backoff", "1-10 s", "10-600 s"),
        ),
    )

    assert change.line() == (
        f"~ subscription {SUB}  (push_endpoint: http://127.0.0.1:42289/ → none (pull); "
        "retry_backoff: 1-10 s → 10-600 s)"
    )


def test_every_push_endpoint_change_is_a_delivery_change_and_nothing_else_is() -> None:
    assert _delivery_change(SUB, None) == ""
    assert _delivery_change(SUB, FieldChange("push_endpoint", "http://a/", PULL)) == (
        f"{SUB} stops pushing to http://a/ (becomes pull)"
    )
    assert "starts pushing to http://b/" in _delivery_change(
        SUB, FieldChange("push_endpoint", PULL, "http://b/")
    )
    assert "moves its push from http://a/ to http://b/" in _delivery_change(
        SUB, FieldChange("push_endpoint", "http://a/", "http://b/")
    )


def test_the_json_plan_has_stable_snake_case_keys() -> None:
    plan = Plan(
        [
            Change("topic", "projects/p/topics/t", "create"),
            Change(
                "subscription",
                SUB,
                "update",
                fields=(FieldChange("ack_deadline", "10 s", "60 s"),),
            ),
        ]
    )

    document = plan.as_json()

    assert list(document) == ["changed", "counts", "summary", "changes"]
    assert document["counts"] == {"create": 1, "update": 1, "unchanged": 0, "drift": 0}
    assert document["changes"][1] == {
        "kind": "subscription",
        "name": SUB,
        "action": "update",
        "detail": "",
        "fields": [{"field": "ack_deadline", "before": "10 s", "after": "60 s"}],
        "delivery_change": None,
    }
    assert plan.delivery_changes == []


def test_help_states_the_flag_the_format_and_the_exit_codes() -> None:
    text = CliRunner().invoke(cli, ["infra", "apply", "--help"], terminal_width=200).output

    assert "--allow-delivery-change" in text
    assert "--format [table|json]" in text
    assert "--timeout" in text
    assert "Exit codes: 0 applied (or nothing to do), 1 refused" in text
