"""The seed-compatible views on both engines: the 0.1.3 columns and types, and seed-era SQL.

Every test runs on the embedded DuckDB file and on the BigQuery stand-in
(``warehouse`` fixture), over the workload of ``tests/support/view_workload.py``.
Column lists come from the facts sheet (``tests/support/seed_schema.py``);
expected values are computed here from the emitted envelopes and the seed
prices, never read back from a warehouse.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope
from il_audit.sql import COMPAT_VIEW_NAMES
from tests.support import seed_schema
from tests.support.scenario import Workload
from tests.support.seed_prices import SEED_RATE_VERSION, seed_rate
from tests.support.warehouses import BigQueryWarehouse, DuckDBWarehouse, by

Warehouse = DuckDBWarehouse | BigQueryWarehouse
CHAT_TURNS = (T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED)


def item_cost(item: Any) -> Decimal | None:
    """What the subscriber stored as one usage item's cost_usd at the seed prices of its
    tier (standard when the tier has none): None without a rate."""
    found = seed_rate(item)
    if found is None:
        return None
    (input_price, output_price, unit_price), _tier = found
    cost = Decimal(0)
    if item.input_tokens is not None or item.output_tokens is not None:
        cost += (
            (item.input_tokens or 0) * (input_price or 0)
            + (item.output_tokens or 0) * (output_price or 0)
        ) / Decimal(1_000_000)
    if item.quantity is not None and unit_price is not None:
        cost += Decimal(repr(item.quantity)) * unit_price
    return cost.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_EVEN)


def seed_cost(item: Any) -> float:
    """What 0.1.3 stored as estimated_cost_usd for one usage item (0.0 without a rate)."""
    return float(item_cost(item) or 0)


def money(items: list[Any]) -> Any:
    """The summed cost of ``items`` as a FLOAT64 column holds it: None when none is priced."""
    costs = [cost for cost in map(item_cost, items) if cost is not None]
    return pytest.approx(float(sum(costs)), abs=1e-12) if costs else None


def whole_ms(value: float | None) -> int | None:
    """A latency rounded to whole ms, half away from zero (SQL's ROUND)."""
    return None if value is None else int(Decimal(repr(value)).quantize(1, ROUND_HALF_UP))


def json_text(value: dict[str, Any] | None) -> str | None:
    """What a *_json column holds: the object as JSON, NULL when missing or empty."""
    return json.dumps(value, separators=(",", ":")) if value else None


def envelope_columns(envelope: Envelope) -> dict[str, Any]:
    """The 18 envelope columns of a 0.1.3 event table, as 0.1.3 filled them."""
    return {
        "event_id": envelope.event_id,
        "batch_id": envelope.batch_id,
        "logged_at": envelope.occurred_at,
        "app": envelope.app,
        "module": envelope.module or envelope.event_type.split(".")[0],
        "event_type": envelope.event_type,
        "actor_uid": envelope.actor_uid,
        "actor_email": envelope.actor_email,
        "action": envelope.action,
        "status": envelope.status,
        "resource_type": envelope.resource_type,
        "resource_id": envelope.resource_id,
        "before_json": json_text(envelope.before),
        "after_json": json_text(envelope.after),
        "metadata_json": json_text(envelope.metadata),
        "trace_id": envelope.trace_id,
        "request_id": envelope.request_id,
        "source": envelope.source,
    }


def parsed_json(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its *_json text parsed (key order and spacing are not part of the contract)."""
    return {
        key: json.loads(value) if key.endswith("_json") and value is not None else value
        for key, value in row.items()
    }


def payload(envelope: Envelope, key: str) -> Any:
    return (envelope.payload or {}).get(key)


def timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# ---------------------------------------------------------------------------- columns


@pytest.mark.parametrize("name", COMPAT_VIEW_NAMES)
def test_compat_view_has_the_seed_table_columns_and_types(warehouse: Warehouse, name: str) -> None:
    """Each compat view's output has the 0.1.3 table's columns, in order, with its types, and
    after them only the later columns of the chat views."""
    columns = warehouse.columns(name)
    seed = seed_schema.columns(name)

    assert columns[: len(seed)] == seed
    assert columns[len(seed) :] == seed_schema.later_columns(name)


# ---------------------------------------------------------------------------- rows


def test_auth_events_rows_carry_the_envelope_as_0_1_3_wrote_it(
    warehouse: Warehouse, workload: Workload
) -> None:
    """auth_events has one row per auth event, with every envelope column filled as in 0.1.3."""
    expected = [
        envelope_columns(envelope)
        for envelope in workload.of_type(T.AUTH_LOGIN_SUCCEEDED, T.AUTH_LOGIN_FAILED, T.AUTH_LOGOUT)
    ]

    rows = warehouse.query("SELECT * FROM {ds}.auth_events")

    assert [parsed_json(row) for row in by(rows, "event_id")] == [
        parsed_json(row) for row in by(expected, "event_id")
    ]


def test_ingest_file_events_types_the_payload_fields(
    warehouse: Warehouse, workload: Workload
) -> None:
    """ingest_file_events reads the file fields out of payload as STRING/INT64/FLOAT64/TS/BOOL."""
    expected = []
    for envelope in workload.of_type(T.INGEST_FILE_INDEXED, T.INGEST_FILE_FAILED):
        row = envelope_columns(envelope)
        for key in ("job_id", "document_id", "drive_file_id", "source_file", "ingest_pipeline"):
            row[key] = payload(envelope, key)
        for key in ("mode", "stage", "ingest_status", "drive_revision_id", "content_sha256"):
            row[key] = payload(envelope, key)
        row["chunk_count"] = payload(envelope, "chunk_count")
        row["elapsed_seconds"] = payload(envelope, "elapsed_seconds")
        row["drive_modified_at"] = timestamp(payload(envelope, "drive_modified_at"))
        row["is_reingest"] = payload(envelope, "is_reingest")
        row["previous_ingested_at"] = timestamp(payload(envelope, "previous_ingested_at"))
        row["tokens_total"] = payload(envelope, "tokens_total")
        row["api_cost_usd"] = payload(envelope, "api_cost_usd")
        row["error"] = payload(envelope, "error")
        expected.append(row)

    rows = warehouse.query("SELECT * FROM {ds}.ingest_file_events")

    assert [parsed_json(row) for row in by(rows, "event_id")] == [
        parsed_json(row) for row in by(expected, "event_id")
    ]


def api_usage_row(
    envelope: Envelope, item: Any, metadata: dict[str, Any] | None = None, **ids: Any
) -> dict[str, Any]:
    """An api_usage_events row for one usage item, as 0.1.3 wrote it, then 1.0.35's
    metadata_json (parsed); ``ids`` override."""
    row = {
        "usage_id": envelope.event_id,
        "logged_at": envelope.occurred_at,
        "app": envelope.app,
        "actor_uid": envelope.actor_uid,
        "actor_email": envelope.actor_email,
        "correlation_id": envelope.correlation_id,
        "correlation_type": envelope.correlation_type,
        "service": item.service,
        "operation": item.operation,
        "model_id": item.model_id,
        "category": item.category,
        "input_tokens": item.input_tokens,
        "output_tokens": item.output_tokens,
        "total_tokens": (item.input_tokens or 0) + (item.output_tokens or 0),
        "tokens_estimated": item.tokens_estimated,
        "pricing_version": SEED_RATE_VERSION if seed_rate(item) else None,
        "pricing_source": "seed_catalog",
        "estimated_cost_usd": pytest.approx(seed_cost(item), abs=1e-12),
        "latency_ms": whole_ms(item.latency_ms),
        "trace_id": envelope.trace_id,
        # 1.0.35's: the call's metadata with its tier, unless the metadata names one.
        "metadata_json": {"pricing_tier": item.pricing_tier or "standard", **(metadata or {})},
    }
    return {**row, **ids}


def test_api_usage_events_rows_describe_each_call(warehouse: Warehouse, workload: Workload) -> None:
    """api_usage_events has one row per emit_api_usage call: its item, tokens, price and cost."""
    expected = []
    for envelope in workload.of_type(T.API_USAGE_RECORDED):
        (item,) = envelope.usage
        expected.append(api_usage_row(envelope, item, envelope.metadata))

    rows = warehouse.query(
        "SELECT * FROM {ds}.api_usage_events WHERE correlation_type IS DISTINCT FROM 'chat_turn'"
    )

    assert by([parsed_json(row) for row in rows], "usage_id") == by(expected, "usage_id")


def test_api_usage_events_has_a_row_per_chat_model_call(
    warehouse: Warehouse, workload: Workload
) -> None:
    """Each usage item of a chat turn is a row of its own, as 1.0.35 wrote one per model call:
    usage_id event_id:offset, correlated with the turn, priced at the item's own tier."""
    expected = [
        api_usage_row(
            envelope,
            item,
            usage_id=f"{envelope.event_id}:{offset}",
            correlation_id=envelope.event_id,
            correlation_type="chat_turn",
        )
        for envelope in workload.of_type(*CHAT_TURNS)
        for offset, item in enumerate(envelope.usage)
    ]

    rows = warehouse.query(
        "SELECT * FROM {ds}.api_usage_events WHERE correlation_type = 'chat_turn'"
    )

    assert by([parsed_json(row) for row in rows], "usage_id") == by(expected, "usage_id")
    assert len(rows) == 5  # four calls of turn-1, one of turn-2, none of turn-3


def test_resource_usage_events_rows_describe_each_quantity(
    warehouse: Warehouse, workload: Workload
) -> None:
    """resource_usage_events has one row per emit_resource_usage call with quantity and cost."""
    expected = []
    for envelope in workload.of_type(T.RESOURCE_USAGE_RECORDED):
        (item,) = envelope.usage
        expected.append(
            {
                "resource_id": envelope.event_id,
                "logged_at": envelope.occurred_at,
                "app": envelope.app,
                "actor_uid": envelope.actor_uid,
                "actor_email": envelope.actor_email,
                "correlation_id": envelope.correlation_id,
                "correlation_type": envelope.correlation_type,
                "resource_type": envelope.resource_type,
                "quantity": item.quantity,
                "unit": item.unit,
                "estimated_cost_usd": pytest.approx(seed_cost(item), abs=1e-12),
                "pricing_version": SEED_RATE_VERSION,
                "pricing_source": "seed_catalog",
                "metadata_json": json_text(envelope.metadata),
            }
        )

    rows = warehouse.query("SELECT * FROM {ds}.resource_usage_events")

    assert [parsed_json(row) for row in by(rows, "resource_id")] == [
        parsed_json(row) for row in by(expected, "resource_id")
    ]


def test_ingest_job_events_fall_back_to_usage_items_for_costs(
    warehouse: Warehouse, workload: Workload
) -> None:
    """A job event without cost fields gets them from its usage items; one with them keeps them."""
    expected = {}
    for envelope in workload.of_type(T.INGEST_JOB_COMPLETED):
        tokens = [item for item in envelope.usage if item.input_tokens or item.output_tokens]
        units = [item for item in envelope.usage if item not in tokens]
        fallback_tokens = sum((i.input_tokens or 0) + (i.output_tokens or 0) for i in tokens)
        expected[payload(envelope, "job_id")] = {
            "tokens_total": payload(envelope, "tokens_total") or fallback_tokens or None,
            "api_cost_usd": pytest.approx(
                payload(envelope, "api_cost_usd") or sum(map(seed_cost, tokens))
            ),
            "resource_cost_usd": pytest.approx(
                payload(envelope, "resource_cost_usd") or sum(map(seed_cost, units))
            ),
            "total_cost_usd": pytest.approx(
                payload(envelope, "total_cost_usd") or sum(map(seed_cost, envelope.usage))
            ),
            "files_completed": payload(envelope, "files_completed"),
            "tokens_vision": payload(envelope, "tokens_vision"),
        }

    rows = warehouse.query(
        "SELECT job_id, tokens_total, api_cost_usd, resource_cost_usd, total_cost_usd, "
        "files_completed, tokens_vision FROM {ds}.ingest_job_events "
        "WHERE event_type = 'ingest.job.completed'"
    )

    assert {row.pop("job_id"): row for row in rows} == expected


def test_ui_interaction_events_rows_carry_the_beacon_fields(
    warehouse: Warehouse, workload: Workload
) -> None:
    """ui_interaction_events has the beacon types with surface, element, interaction, counts."""
    expected = []
    for envelope in workload.of_type(*sorted(T.BEACON_EVENT_TYPES)):
        row = envelope_columns(envelope)
        row["surface"] = payload(envelope, "surface")
        row["element_id"] = payload(envelope, "element_id")
        row["interaction"] = payload(envelope, "interaction")
        row["duration_ms"] = payload(envelope, "duration_ms")
        row["result_count"] = payload(envelope, "result_count")
        expected.append(row)

    rows = warehouse.query("SELECT * FROM {ds}.ui_interaction_events")

    assert [parsed_json(row) for row in by(rows, "event_id")] == [
        parsed_json(row) for row in by(expected, "event_id")
    ]


def turn_totals(envelope: Envelope) -> dict[str, Any]:
    """A turn's tokens and costs as chat_turns has them: the token items' sums when the turn
    has usage, else payload's totals; API cost of token items, resource cost of the others."""
    tokens = [
        i for i in envelope.usage if i.input_tokens is not None or i.output_tokens is not None
    ]
    others = [item for item in envelope.usage if item not in tokens]
    return {
        "input_tokens": sum(i.input_tokens or 0 for i in tokens)
        if tokens
        else payload(envelope, "input_tokens"),
        "output_tokens": sum(i.output_tokens or 0 for i in tokens)
        if tokens
        else payload(envelope, "output_tokens"),
        "api_cost_usd": money(tokens),
        "resource_cost_usd": money(others),
        "total_cost_usd": money(envelope.usage),
    }


def pricing_status(envelope: Envelope) -> str | None:
    priced = sum(item_cost(item) is not None for item in envelope.usage)
    if not envelope.usage:
        return None
    if priced == len(envelope.usage):
        return "priced"
    return "partially_priced" if priced else "unpriced"


def expected_turn(envelope: Envelope) -> dict[str, Any]:
    """The chat_turns row of one turn event, from the contract of emit_chat_turn."""
    fields = envelope.payload or {}
    sources = fields.get("sources")
    row = {
        "turn_id": envelope.event_id,
        "session_id": envelope.session_id,
        "app": envelope.app,
        "actor_uid": envelope.actor_uid,
        "actor_email": envelope.actor_email,
        "logged_at": envelope.occurred_at,
        "question": fields.get("question"),
        "question_sha256": fields.get("question_sha256"),
        "history_turn_count": fields.get("history_turn_count"),
        "turn_index": fields.get("turn_index"),
        "response_type": fields.get("response_type"),
        "summary_scope": fields.get("summary_scope"),
        "include_hidden_slides": fields.get("include_hidden_slides"),
        "attached_source_count": fields.get("attached_source_count"),
        "used_attached_only": fields.get("used_attached_only"),
        "retrieval_query": fields.get("retrieval_query"),
        "retrieval_hit_count": fields.get("retrieval_hit_count"),
        "sources_returned_count": fields.get(
            "sources_returned_count", None if sources is None else len(sources)
        ),
        "no_docs": fields.get("no_docs"),
        "latency_ms_total": whole_ms(fields.get("latency_ms")),
        "latency_ms_retrieval": whole_ms(fields.get("latency_ms_retrieval")),
        "latency_ms_llm": whole_ms(fields.get("latency_ms_llm")),
        "llm_model": fields.get("llm_model"),
        **turn_totals(envelope),
        "status": envelope.status,
        "sources_json": json.dumps(sources) if sources else None,
        "trace_id": envelope.trace_id,
        "conversation_id": fields.get("conversation_id", envelope.session_id),
        "visit_session_id": fields.get("visit_session_id"),
        "environment": envelope.environment,
        "user_message_count": fields.get("user_message_count"),
        "assistant_message_count": fields.get("assistant_message_count"),
        "message_count": fields.get("message_count"),
        "workflow": fields.get("workflow"),
        "metadata_json": json_text(envelope.metadata),
        "error_class": fields.get("error_class"),
        "app_version": envelope.app_version,
        "question_hmac": fields.get("question_hmac"),
        "question_length": fields.get("question_length"),
        "time_to_first_token_ms": whole_ms(fields.get("time_to_first_token_ms")),
        "model_calls": fields.get("model_calls", len(envelope.usage)),
        "pricing_status": pricing_status(envelope),
    }
    return parsed_json(row)


def test_chat_turns_has_a_row_per_turn_with_its_calls_rolled_up(
    warehouse: Warehouse, workload: Workload
) -> None:
    """chat_turns has one row per turn event: payload fields typed, tokens summed over the
    model calls (payload totals without usage), API and resource cost, 1.0.35's and our columns."""
    expected = [expected_turn(envelope) for envelope in workload.of_type(*CHAT_TURNS)]

    rows = warehouse.query("SELECT * FROM {ds}.chat_turns")

    assert [parsed_json(row) for row in by(rows, "turn_id")] == by(expected, "turn_id")
    assert [row["turn_id"] for row in by(rows, "turn_id")] == ["turn-1", "turn-2", "turn-3"]


def test_chat_turn_costs_add_up_to_the_event_cost(warehouse: Warehouse) -> None:
    """api_cost_usd + resource_cost_usd is total_cost_usd, which the chat rows of
    api_usage_events sum to, turn by turn (FLOAT64 columns; the rerank query is resource)."""
    rows = warehouse.query(
        """
        SELECT t.turn_id, t.api_cost_usd, t.resource_cost_usd, t.total_cost_usd,
          SUM(a.estimated_cost_usd) AS calls_usd
        FROM {ds}.chat_turns AS t
        JOIN {ds}.api_usage_events AS a
          ON a.correlation_id = t.turn_id AND a.correlation_type = 'chat_turn'
        WHERE t.turn_id = 'turn-1'
        GROUP BY t.turn_id, t.api_cost_usd, t.resource_cost_usd, t.total_cost_usd
        """
    )

    (row,) = rows
    assert row["resource_cost_usd"] == pytest.approx(0.001)
    assert row["api_cost_usd"] + row["resource_cost_usd"] == pytest.approx(row["total_cost_usd"])
    assert row["calls_usd"] == pytest.approx(row["total_cost_usd"])


def expected_sessions(workload: Workload) -> list[dict[str, Any]]:
    """chat_sessions rows from the session and turn events, by the view's documented rules."""
    groups: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    for envelope in workload.of_type(T.CHAT_SESSION_STARTED, T.CHAT_SESSION_ENDED, *CHAT_TURNS):
        if envelope.session_id:
            groups[(envelope.app, envelope.session_id)].append(envelope)
    rows = []
    for (app, session_id), events in groups.items():
        events.sort(key=lambda e: (e.occurred_at, e.event_id))
        turns = [e for e in events if e.event_type in CHAT_TURNS]
        starts = [
            timestamp(payload(e, "started_at")) or e.occurred_at
            for e in events
            if e.event_type == T.CHAT_SESSION_STARTED
        ]
        ends = [e for e in events if e.event_type == T.CHAT_SESSION_ENDED]
        starts += [timestamp(payload(e, "started_at")) for e in ends if payload(e, "started_at")]
        started_at = min(starts) if starts else events[0].occurred_at
        ended_at = max((e.occurred_at for e in ends), default=None)
        turn_count = max(
            len({e.event_id for e in turns}),
            max((payload(e, "turn_count") or 0 for e in events), default=0),
        )
        totals = [turn_totals(e) for e in turns]

        def total(key: str, totals: list[dict[str, Any]] = totals) -> Any:
            values = [t[key] for t in totals if t[key] is not None]
            if not values:
                return None
            if key.endswith("_usd"):
                return pytest.approx(sum(v.expected for v in values), abs=1e-12)
            return sum(values)

        def first(key: str, events: list[Envelope] = events) -> Any:
            return next((payload(e, key) for e in events if payload(e, key) is not None), None)

        def largest(key: str, events: list[Envelope] = events) -> Any:
            return max((v for e in events if (v := payload(e, key)) is not None), default=None)

        def first_attr(name: str, events: list[Envelope] = events) -> Any:
            return next((getattr(e, name) for e in events if getattr(e, name)), None)

        rows.append(
            {
                "session_id": session_id,
                "app": app,
                "actor_uid": first_attr("actor_uid"),
                "actor_email": first_attr("actor_email"),
                "started_at": started_at,
                "last_activity_at": events[-1].occurred_at,
                "ended_at": ended_at,
                "duration_seconds": (ended_at - started_at).total_seconds()
                if ended_at is not None and ended_at >= started_at
                else None,
                "turn_count": turn_count,
                "ended_reason": first("ended_reason", ends[::-1]),
                "total_input_tokens": total("input_tokens"),
                "total_output_tokens": total("output_tokens"),
                "had_multi_turn": turn_count > 1,
                "total_api_cost_usd": total("api_cost_usd"),
                "total_resource_cost_usd": total("resource_cost_usd"),
                "total_cost_usd": total("total_cost_usd"),
                "conversation_id": first("conversation_id") or session_id,
                "visit_session_id": first("visit_session_id"),
                "environment": first_attr("environment"),
                "user_message_count": largest("user_message_count"),
                "assistant_message_count": largest("assistant_message_count"),
                "message_count": largest("message_count"),
            }
        )
    return rows


def test_chat_sessions_has_a_row_per_session_from_its_events_and_turns(
    warehouse: Warehouse, workload: Workload
) -> None:
    """chat_sessions has one row per (app, session_id): start (payload.started_at), end, reason,
    duration, turns, totals over the turns, and a session known only from a turn."""
    expected = expected_sessions(workload)

    rows = warehouse.query("SELECT * FROM {ds}.chat_sessions")

    assert by(rows, "session_id") == by(expected, "session_id")
    conv_1, conv_2 = by(rows, "session_id")
    assert (conv_1["duration_seconds"], conv_1["turn_count"]) == (1230.0, 2)
    assert (conv_2["ended_at"], conv_2["conversation_id"]) == (None, "conversation-2")


# ---------------------------------------------------------------------------- seed-era SQL


def test_dashboard_logins_per_day(warehouse: Warehouse, workload: Workload) -> None:
    """A 0.1.3 dashboard query (logins, failures and users per day) runs unchanged."""
    days: dict[date, dict[str, Any]] = defaultdict(
        lambda: {"logins": 0, "failures": 0, "users": set()}
    )
    for envelope in workload.of_type(T.AUTH_LOGIN_SUCCEEDED, T.AUTH_LOGIN_FAILED):
        day = days[envelope.occurred_at.date()]
        day["logins" if envelope.event_type == T.AUTH_LOGIN_SUCCEEDED else "failures"] += 1
        if envelope.actor_uid:
            day["users"].add(envelope.actor_uid)
    expected = [
        {"day": day, "logins": v["logins"], "failures": v["failures"], "users": len(v["users"])}
        for day, v in sorted(days.items())
    ]

    rows = warehouse.query(
        """
        SELECT DATE(logged_at) AS day,
          COUNTIF(event_type = 'auth.login.succeeded') AS logins,
          COUNTIF(event_type = 'auth.login.failed') AS failures,
          COUNT(DISTINCT actor_uid) AS users
        FROM {ds}.auth_events
        WHERE event_type LIKE 'auth.login.%'
        GROUP BY day
        ORDER BY day
        """
    )

    assert rows == expected


def test_dashboard_api_cost_by_model(warehouse: Warehouse, workload: Workload) -> None:
    """A 0.1.3 cost report (calls, tokens and USD per model) runs unchanged."""
    models: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "input_tokens": None, "total_tokens": 0, "cost_usd": 0.0}
    )
    for envelope in workload.of_type(T.API_USAGE_RECORDED, *CHAT_TURNS):
        for item in envelope.usage:  # an API call has one item, a chat turn one per model call
            model = models[str(item.model_id)]
            model["calls"] += 1
            if item.input_tokens is not None:  # SUM of NULLs only (a rerank query) is NULL
                model["input_tokens"] = (model["input_tokens"] or 0) + item.input_tokens
            model["total_tokens"] += (item.input_tokens or 0) + (item.output_tokens or 0)
            model["cost_usd"] += seed_cost(item)
    expected = [
        {"model_id": model, **values, "cost_usd": pytest.approx(values["cost_usd"])}
        for model, values in sorted(models.items())
    ]

    rows = warehouse.query(
        """
        SELECT model_id, COUNT(*) AS calls, SUM(input_tokens) AS input_tokens,
          SUM(total_tokens) AS total_tokens, ROUND(SUM(estimated_cost_usd), 8) AS cost_usd
        FROM {ds}.api_usage_events
        GROUP BY model_id
        ORDER BY model_id
        """
    )

    assert rows == expected


def test_dashboard_ingest_cost_per_job(warehouse: Warehouse, workload: Workload) -> None:
    """A 0.1.3 join of jobs with their API calls (by correlation_id) runs unchanged."""
    api_cost: dict[str, float] = defaultdict(float)
    for envelope in workload.of_type(T.API_USAGE_RECORDED):
        if envelope.correlation_type == "ingest_job" and envelope.correlation_id:
            api_cost[envelope.correlation_id] += seed_cost(envelope.usage[0])
    expected = []
    for envelope in workload.of_type(T.INGEST_JOB_COMPLETED):
        job_id = payload(envelope, "job_id")
        reported = payload(envelope, "total_cost_usd") or sum(map(seed_cost, envelope.usage))
        expected.append(
            {
                "job_id": job_id,
                "files_completed": payload(envelope, "files_completed"),
                "job_cost_usd": pytest.approx(reported),
                "api_calls_usd": pytest.approx(api_cost[job_id]),
            }
        )

    rows = warehouse.query(
        """
        SELECT j.job_id, j.files_completed, j.total_cost_usd AS job_cost_usd,
          ROUND(SUM(a.estimated_cost_usd), 8) AS api_calls_usd
        FROM {ds}.ingest_job_events AS j
        LEFT JOIN {ds}.api_usage_events AS a
          ON a.correlation_id = j.job_id AND a.correlation_type = 'ingest_job'
        WHERE j.event_type = 'ingest.job.completed'
        GROUP BY j.job_id, j.files_completed, j.total_cost_usd
        ORDER BY j.job_id
        """
    )

    assert rows == expected


def test_dashboard_ui_clicks_by_surface(warehouse: Warehouse, workload: Workload) -> None:
    """A 0.1.3 UI report (events and time per surface and interaction) runs unchanged."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"events": 0, "duration_ms": None}
    )
    for envelope in workload.of_type(*sorted(T.BEACON_EVENT_TYPES)):
        group = groups[(payload(envelope, "surface"), payload(envelope, "interaction"))]
        group["events"] += 1
        if payload(envelope, "duration_ms") is not None:
            group["duration_ms"] = (group["duration_ms"] or 0) + payload(envelope, "duration_ms")
    expected = [
        {"surface": surface, "interaction": interaction, **values}
        for (surface, interaction), values in sorted(groups.items())
    ]

    rows = warehouse.query(
        """
        SELECT surface, interaction, COUNT(*) AS events, SUM(duration_ms) AS duration_ms
        FROM {ds}.ui_interaction_events
        GROUP BY surface, interaction
        ORDER BY surface, interaction
        """
    )

    assert rows == expected


def test_dashboard_settings_changes_read_the_json_columns(
    warehouse: Warehouse, workload: Workload
) -> None:
    """A 0.1.3 audit query reading before_json / after_json with JSON_EXTRACT_SCALAR runs."""
    expected = [
        {
            "actor_uid": envelope.actor_uid,
            "theme_before": (envelope.before or {}).get("theme"),
            "theme_after": (envelope.after or {}).get("theme"),
        }
        for envelope in workload.of_type(T.USER_SETTINGS_UPDATED)
    ]

    rows = warehouse.query(
        """
        SELECT actor_uid,
          JSON_EXTRACT_SCALAR(before_json, '$.theme') AS theme_before,
          JSON_EXTRACT_SCALAR(after_json, '$.theme') AS theme_after
        FROM {ds}.user_profile_events
        ORDER BY logged_at
        """
    )

    assert rows == expected


def test_dashboard_indexing_per_job(warehouse: Warehouse, workload: Workload) -> None:
    """A 0.1.3 indexing report (files, chunks, re-ingests, failures per job) runs unchanged."""
    files = workload.of_type(T.INGEST_FILE_INDEXED, T.INGEST_FILE_FAILED)
    jobs = sorted({payload(envelope, "job_id") for envelope in files})
    expected = []
    for job_id in jobs:
        mine = [envelope for envelope in files if payload(envelope, "job_id") == job_id]
        indexed = [e for e in mine if e.event_type == T.INGEST_FILE_INDEXED]
        expected.append(
            {
                "job_id": job_id,
                "indexed": len(indexed),
                "failed": len(mine) - len(indexed),
                "chunks": sum(payload(e, "chunk_count") or 0 for e in indexed),
                "reingested": sum(bool(payload(e, "is_reingest")) for e in indexed),
                "last_modified": max(
                    timestamp(payload(e, "drive_modified_at"))
                    for e in indexed
                    if payload(e, "drive_modified_at")
                ),
            }
        )

    rows = warehouse.query(
        """
        SELECT job_id,
          COUNTIF(event_type = 'ingest.file.indexed') AS indexed,
          COUNTIF(event_type = 'ingest.file.failed') AS failed,
          SUM(chunk_count) AS chunks,
          COUNTIF(is_reingest) AS reingested,
          MAX(drive_modified_at) AS last_modified
        FROM {ds}.ingest_file_events
        GROUP BY job_id
        ORDER BY job_id
        """
    )

    assert rows == expected
