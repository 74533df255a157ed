"""costs_repriced, auth_failures, ui_interactions, pipeline_health, model_call_text and
llm_cost_by_model_tier on both engines.

Each test runs on the embedded DuckDB file and on the BigQuery stand-in over
the workload of ``tests/support/view_workload.py``; the expected rows are computed
here from the emitted envelopes, the rates of ``TABLE_RATES`` and the seed
prices.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import UsageItem
from il_audit.subscriber_fn.core import ErrorClass
from tests.support.scenario import Workload
from tests.support.seed_prices import SEED_RATE_VERSION, SEED_RATES, seed_rate
from tests.support.view_workload import TABLE_RATES
from tests.support.warehouses import BigQueryWarehouse, DuckDBWarehouse, by

Warehouse = DuckDBWarehouse | BigQueryWarehouse
NANO = Decimal("0.000000001")


def cost(item: UsageItem, prices: tuple[Decimal | None, Decimal | None, Decimal | None]) -> Decimal:
    """tokens * price per 1M / 1e6 + quantity * unit price, to 9 places."""
    input_price, output_price, unit_price = prices
    total = Decimal(0)
    if input_price is not None or output_price is not None:
        total += (
            (item.input_tokens or 0) * (input_price or 0)
            + (item.output_tokens or 0) * (output_price or 0)
        ) / Decimal(1_000_000)
    if item.quantity is not None and unit_price is not None:
        total += Decimal(repr(item.quantity)) * unit_price
    return total.quantize(NANO, rounding=ROUND_HALF_UP)


def table_rate(item: UsageItem, day: date) -> Any:
    """The TABLE_RATES row in force for the item on ``day``, if any."""
    candidates = [
        rate
        for rate in TABLE_RATES
        if (rate.service, rate.model_id) == (item.service, item.model_id)
        and rate.effective_from <= day
    ]
    return max(candidates, key=lambda rate: rate.effective_from, default=None)


def percentile_cont(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (BigQuery's PERCENTILE_CONT)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_costs_repriced_prices_each_item_at_the_rate_in_force(
    warehouse: Warehouse, workload: Workload
) -> None:
    """Every usage item is priced from cost_rates at the rate of its day, beside its stored cost."""
    expected = []
    for envelope in workload.envelopes:
        day = envelope.occurred_at.date()
        seed_priced = [i for i in envelope.usage if (i.service, i.model_id) in SEED_RATES]
        for item in envelope.usage:
            rate = table_rate(item, day)
            found = seed_rate(item)  # at the item's tier, else standard
            seed = None if found is None else found[0]
            expected.append(
                {
                    "event_id": envelope.event_id,
                    "occurred_at": envelope.occurred_at,
                    "day": day,
                    "app": envelope.app,
                    "event_type": envelope.event_type,
                    "service": item.service,
                    "model_id": item.model_id,
                    "pricing_tier": item.pricing_tier or "standard",
                    "category": item.category,
                    "input_tokens": item.input_tokens,
                    "output_tokens": item.output_tokens,
                    "quantity": item.quantity,
                    "unit": item.unit,
                    "stored_cost_usd": None if seed is None else cost(item, seed),
                    "stored_pricing_source": "seed_catalog",
                    "stored_rate_version": SEED_RATE_VERSION if seed_priced else None,
                    "rate_effective_from": rate and rate.effective_from,
                    "rate_tier": rate and rate.pricing_tier,
                    "rate_version": rate and rate.rate_version,
                    "repriced_cost_usd": rate
                    and cost(
                        item,
                        (
                            rate.input_price_per_1m_tokens,
                            rate.output_price_per_1m_tokens,
                            rate.unit_price,
                        ),
                    ),
                }
            )

    rows = warehouse.query("SELECT * FROM {ds}.costs_repriced")

    assert by(rows, "event_id", "service", "model_id") == by(
        expected, "event_id", "service", "model_id"
    )
    assert all(isinstance(row["repriced_cost_usd"], Decimal | None) for row in rows)


def test_costs_repriced_follows_a_price_change(warehouse: Warehouse) -> None:
    """gemini-2.0-flash costs less from the day its new rate takes effect, at the new price."""
    rows = warehouse.query(
        """
        SELECT day, rate_version, SUM(input_tokens) AS input_tokens,
          SUM(output_tokens) AS output_tokens, SUM(repriced_cost_usd) AS repriced_cost_usd
        FROM {ds}.costs_repriced
        WHERE model_id = 'gemini-2.0-flash'
        GROUP BY day, rate_version
        ORDER BY day
        """
    )

    assert [(row["day"], row["rate_version"]) for row in rows] == [
        (date(2026, 11, 23), "table-2026-07"),
        (date(2026, 11, 24), "table-2026-11"),
    ]
    before, after = rows
    assert before["repriced_cost_usd"] == (
        before["input_tokens"] * Decimal("0.12") + before["output_tokens"] * Decimal("0.48")
    ) / Decimal(1_000_000)
    # 0.0027 + 0.0002 + 0.00019 (the chat turn's batch call: no batch rate in cost_rates, so
    # the standard one), rounded per item
    assert after["repriced_cost_usd"] == Decimal("0.003090000")


def test_auth_failures_counts_per_day_and_actor_with_the_ratio(
    warehouse: Warehouse, workload: Workload
) -> None:
    """auth_failures lists each actor with a failed login that day, the counts and the ratio."""
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for envelope in workload.of_type(T.AUTH_LOGIN_FAILED, T.AUTH_LOGIN_SUCCEEDED):
        key = (envelope.occurred_at.date(), envelope.app, envelope.actor_uid, envelope.actor_email)
        groups[key].append(envelope)
    expected = []
    for (day, app, uid, email), events in groups.items():
        failed = [e.occurred_at for e in events if e.event_type == T.AUTH_LOGIN_FAILED]
        if not failed:
            continue
        expected.append(
            {
                "day": day,
                "app": app,
                "actor_uid": uid,
                "actor_email": email,
                "failed_logins": len(failed),
                "successful_logins": len(events) - len(failed),
                "failure_ratio": pytest.approx(len(failed) / len(events)),
                "first_failure_at": min(failed),
                "last_failure_at": max(failed),
            }
        )

    rows = warehouse.query("SELECT * FROM {ds}.auth_failures")

    assert by(rows, "day", "actor_email") == by(expected, "day", "actor_email")
    assert len(expected) == 2  # the workload has one such actor per day


def test_ui_interactions_lists_beacon_events_with_their_ui_fields(
    warehouse: Warehouse, workload: Workload
) -> None:
    """ui_interactions has one row per beacon event with the UI fields out of payload."""
    expected = []
    for envelope in workload.envelopes:
        if envelope.source != "beacon":
            continue
        fields = envelope.payload or {}
        expected.append(
            {
                "event_id": envelope.event_id,
                "occurred_at": envelope.occurred_at,
                "day": envelope.occurred_at.date(),
                "app": envelope.app,
                "environment": envelope.environment,
                "event_type": envelope.event_type,
                "actor_uid": envelope.actor_uid,
                "actor_email": envelope.actor_email,
                "session_id": envelope.session_id,
                "trace_id": envelope.trace_id,
                "surface": fields.get("surface"),
                "element_id": fields.get("element_id"),
                "interaction": fields.get("interaction"),
                "resource_type": envelope.resource_type,
                "resource_id": envelope.resource_id,
                "status": envelope.status,
                "duration_ms": fields.get("duration_ms"),
                "result_count": fields.get("result_count"),
                "page_path": fields.get("page_path"),
                "user_agent": fields.get("user_agent"),
                "metadata": envelope.metadata,
            }
        )

    rows = warehouse.query("SELECT * FROM {ds}.ui_interactions")

    for row in rows:  # DuckDB returns JSON as text, BigQuery as the parsed value
        if isinstance(row["metadata"], str):
            row["metadata"] = json.loads(row["metadata"])
    assert by(rows, "event_id") == by(expected, "event_id")
    assert len(rows) == 5


def test_pipeline_health_summarises_each_hour(warehouse: Warehouse, workload: Workload) -> None:
    """pipeline_health has, per hour, accepted and dead-lettered counts, unpriced share, delays."""
    hours: dict[datetime, dict[str, Any]] = defaultdict(
        lambda: {"delays": [], "with_usage": 0, "unpriced": 0, "partial": 0, "dead": []}
    )
    for envelope in workload.envelopes:
        ingested = workload.ingested_at[envelope.event_id]
        hour = hours[ingested.replace(minute=0, second=0, microsecond=0)]
        hour["delays"].append((ingested - envelope.occurred_at).total_seconds())
        if envelope.usage:
            hour["with_usage"] += 1
            priced = [i for i in envelope.usage if (i.service, i.model_id) in SEED_RATES]
            hour["unpriced"] += not priced
            hour["partial"] += 0 < len(priced) < len(envelope.usage)
    classes = {b'{"event_id": "broken': "invalid_json", b"no.such": "unknown_event_type"}
    for line, when in workload.rejected:
        error_class = next(
            (name for marker, name in classes.items() if marker in line), "schema_violation"
        )
        hours[when.replace(minute=0, second=0, microsecond=0)]["dead"].append(error_class)
    expected = []
    for hour, values in hours.items():
        row: dict[str, Any] = {
            "hour": hour,
            "accepted_events": len(values["delays"]),
            "dead_lettered": len(values["dead"]),
        }
        for error_class in ErrorClass:
            row[f"dead_lettered_{error_class.value}"] = values["dead"].count(error_class.value)
        row["dead_lettered_other"] = 0
        row["events_with_usage"] = values["with_usage"]
        row["unpriced_events"] = values["unpriced"]
        row["partially_priced_events"] = values["partial"]
        row["unpriced_share"] = (
            pytest.approx(values["unpriced"] / values["with_usage"])
            if values["with_usage"]
            else None
        )
        row["p50_delay_seconds"] = values["delays"] and pytest.approx(
            percentile_cont(values["delays"], 0.5)
        )
        row["p99_delay_seconds"] = values["delays"] and pytest.approx(
            percentile_cont(values["delays"], 0.99)
        )
        if not values["delays"]:
            row["p50_delay_seconds"] = row["p99_delay_seconds"] = None
        expected.append(row)

    rows = warehouse.query("SELECT * FROM {ds}.pipeline_health")

    assert by(rows, "hour") == by(expected, "hour")
    assert any(row["accepted_events"] == 0 for row in rows)  # an hour with dead letters only


def test_model_call_text_has_1_0_35_columns_and_a_row_per_call(
    warehouse: Warehouse, workload: Workload
) -> None:
    """model_call_text has 1.0.35's 28 columns in order, one row per chat.model_call.text event."""
    expected = []
    for envelope in workload.of_type(T.CHAT_MODEL_CALL_TEXT):
        fields = envelope.payload or {}
        expected.append(
            {
                "call_id": envelope.event_id,
                "logged_at": envelope.occurred_at,
                "app": envelope.app,
                "environment": envelope.environment,
                "actor_uid": envelope.actor_uid,
                "actor_email": envelope.actor_email,
                "conversation_id": fields.get("conversation_id", envelope.session_id),
                "correlation_id": envelope.correlation_id,
                "correlation_type": envelope.correlation_type,
                **{key: fields.get(key) for key in MODEL_CALL_FIELDS[:13]},
                "app_version": envelope.app_version,
                **{key: fields.get(key) for key in MODEL_CALL_FIELDS[13:]},
                "trace_id": envelope.trace_id,
            }
        )

    rows = warehouse.query("SELECT * FROM {ds}.model_call_text")

    assert warehouse.columns("model_call_text") == MODEL_CALL_TEXT_COLUMNS
    assert rows == expected
    assert len(rows) == 1


def test_v_chat_model_calls_adds_the_turn_to_each_call(warehouse: Warehouse) -> None:
    """1.0.35's helper view: model_call_text's columns, then the question, retrieval query,
    status, tokens and API cost of the turn the call is correlated to (chat_turns)."""
    from il_audit.schemas.descriptions import described_columns

    (turn,) = warehouse.query(
        "SELECT question, retrieval_query, status, input_tokens, output_tokens, api_cost_usd "
        "FROM {ds}.chat_turns WHERE turn_id = 'turn-1'"
    )
    (call,) = warehouse.query("SELECT * FROM {ds}.model_call_text WHERE call_id = 'call-1'")

    (row,) = warehouse.query("SELECT * FROM {ds}.v_chat_model_calls WHERE call_id = 'call-1'")

    assert warehouse.columns("v_chat_model_calls") == [
        (column.name, column.type) for column in described_columns("v_chat_model_calls")
    ]
    assert row == {
        **call, "question": turn["question"], "retrieval_query": "reset password",
        "turn_status": "succeeded", "turn_input_tokens": turn["input_tokens"],
        "turn_output_tokens": turn["output_tokens"], "turn_api_cost_usd": turn["api_cost_usd"],
    }  # fmt: skip
    assert turn["question"]


MODEL_CALL_FIELDS = (
    # payload keys of chat.model_call.text, in the order of the columns they fill
    "sequence", "category", "operation", "model_id", "attempt", "succeeded", "error_type",
    "prompt_source", "temperature", "thinking_level", "thought_tokens", "cached_tokens",
    "finish_reason", "prompt", "completion", "prompt_truncated", "completion_truncated",
)  # fmt: skip
MODEL_CALL_TEXT_COLUMNS = [
    # il-audit 1.0.35's model_call_text (facts sheet 5.6), with BigQuery's type names
    ("call_id", "STRING"), ("logged_at", "TIMESTAMP"), ("app", "STRING"),
    ("environment", "STRING"), ("actor_uid", "STRING"), ("actor_email", "STRING"),
    ("conversation_id", "STRING"), ("correlation_id", "STRING"), ("correlation_type", "STRING"),
    ("sequence", "INT64"), ("category", "STRING"), ("operation", "STRING"),
    ("model_id", "STRING"), ("attempt", "INT64"), ("succeeded", "BOOL"),
    ("error_type", "STRING"), ("prompt_source", "STRING"), ("temperature", "FLOAT64"),
    ("thinking_level", "STRING"), ("thought_tokens", "INT64"), ("cached_tokens", "INT64"),
    ("finish_reason", "STRING"), ("app_version", "STRING"), ("prompt", "STRING"),
    ("completion", "STRING"), ("prompt_truncated", "BOOL"), ("completion_truncated", "BOOL"),
    ("trace_id", "STRING"),
]  # fmt: skip


def test_llm_cost_by_model_tier_groups_calls_by_tier_and_rate_tier(
    warehouse: Warehouse, workload: Workload
) -> None:
    """Per day, app, model, tier asked and tier that priced: calls, tokens, exact cost, the
    unpriced items and the fallback items (a batch call priced at the standard rate)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "input_tokens": None, "output_tokens": None, "cost_usd": None,
                 "unpriced_items": 0, "fallback_items": 0}
    )  # fmt: skip
    for envelope in workload.of_type(
        T.API_USAGE_RECORDED, T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED
    ):
        for item in envelope.usage:
            tier = item.pricing_tier or "standard"
            found = seed_rate(item)
            rate_tier = None if found is None else found[1]
            key = (envelope.occurred_at.date(), envelope.app, item.service, item.model_id, tier,
                   rate_tier)  # fmt: skip
            group = groups[key]
            group["calls"] += 1
            for name in ("input_tokens", "output_tokens"):
                if getattr(item, name) is not None:
                    group[name] = (group[name] or 0) + getattr(item, name)
            if found is None:
                group["unpriced_items"] += 1
            else:
                group["cost_usd"] = (group["cost_usd"] or 0) + cost(item, found[0])
                group["fallback_items"] += rate_tier != tier
    expected = [
        dict(zip(("day", "app", "service", "model_id", "pricing_tier", "rate_tier"), key,
                 strict=True), **values)
        for key, values in groups.items()
    ]  # fmt: skip

    rows = warehouse.query("SELECT * FROM {ds}.llm_cost_by_model_tier")

    order = ("day", "app", "service", "model_id", "pricing_tier")
    assert by(rows, *order) == by(expected, *order)
    assert all(isinstance(row["cost_usd"], Decimal | None) for row in rows)
    fallback = [row for row in rows if row["fallback_items"]]
    assert [(row["model_id"], row["pricing_tier"], row["rate_tier"]) for row in fallback] == [
        ("gemini-embedding-001", "batch", "standard")
    ]
