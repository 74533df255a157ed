"""`il-audit migrate from-1.0` against the BigQuery stand-in, on a dataset shaped like 1.0.35's.

The dataset gets the 23 tables of 1.0.35, created from the facts sheet's
schemas (§5.6, ``tests/support/seed_schema.py``), with rows written as 1.0.35
wrote them; the module migrates it once through the command (a dry run first),
runs it again, writes new events through the subscriber's core, and the tests
read the old names back. Which tables become views is not listed here: every
1.0.35 table that a view of this il-audit stands in for (``legacy_view_names``),
so the views other work adds are checked as they land.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.cloud import bigquery

from il_audit import AuditContext, emit
from il_audit.chat import (
    emit_chat_visit_session,
    emit_model_call_text,
    emit_out_of_scope_query,
    emit_retrieval_pass,
)
from il_audit.cli import cli
from il_audit.operations.migrate import MigrationReport, migrate_from_1_0
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas.envelope import envelope_json
from il_audit.schemas.seed_tables import SEED_TABLES
from il_audit.sql import legacy_view_names
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import seed_schema
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.factories import make_settings
from tests.support.legacy_datasets import Dataset, filled_row, new_dataset, stand_in_client

HISTORY = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NEW_DAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TABLES = list(seed_schema.tables_1_0_35())
CHAT = AuditContext(app="chat", actor_uid="u-new", environment="staging")
RATES_1_0 = [
    # 1.0.35's seed catalog (§5.15) as an operator would have loaded it into cost_rates.
    ("vertex_gemini", "gemini-2.0-flash", "standard", 0.15, 0.6, None, "tokens"),
    ("vertex_gemini", "gemini-2.0-flash", "batch", 0.075, 0.3, None, "tokens"),
    ("vertex_embedding", "gemini-embedding-001", "standard", 0.025, 0.0, None, "tokens"),
    ("vertex_rerank", "semantic-ranker-default", "standard", 0.0, 0.0, 0.001, "query"),
    ("cloud_run", "cpu_second", None, 0.0, 0.0, 0.000024, "vCPU_second"),  # no tier: standard
    ("gcs", "storage_byte", "standard", 0.0, 0.0, 2e-11, "byte"),  # too fine for NUMERIC
]


def row_1_0(table: str, index: int, at: datetime = HISTORY, **values: Any) -> dict[str, Any]:
    """A plausible 1.0.35 row of ``table`` (repeated columns get one value)."""
    columns = seed_schema.tables_1_0_35()[table]
    row = filled_row([(c.name, c.type) for c in columns], at, index, environment="production")
    for column in columns:
        if column.mode == "REPEATED":
            row[column.name] = [f"{column.name}-{index}@example.com"]
    row.update(values)
    return row


def create_table(dataset: Dataset, table: str, rows: list[dict[str, Any]]) -> None:
    """``table`` with 1.0.35's schema, holding ``rows``."""
    fields = seed_schema.schema_fields_1_0_35(table)
    dataset.client.create_table(bigquery.Table(dataset.ref(table), fields))
    assert dataset.client.insert_rows_json(dataset.ref(table), rows) == []


def create_1_0_dataset(client: bigquery.Client) -> Dataset:
    """A dataset with the 23 1.0.35 tables, two rows in each but cost_rates (1.0's rates)."""
    dataset = new_dataset(client, "era_1_0")
    special: dict[str, list[dict[str, Any]]] = {
        "auth_events": [
            row_1_0("auth_events", 1, event_type="auth.login.succeeded", app="chat",
                    actor_uid="u-old", login_provider="google", path="/login"),
            row_1_0("auth_events", 2, event_type="auth.login.failed", app="chat",
                    actor_uid="u-old", login_provider="microsoft", path="/login"),
        ],
        "model_call_text": [
            row_1_0("model_call_text", 1, call_id="call-old", app="chat", prompt="Old prompt",
                    completion="Old answer", category="qa", sequence=1, succeeded=True),
        ],
        "cost_rates": [
            {"rate_version": "2026-08-31", "service": service, "model_id": model,
             "pricing_tier": tier, "input_price_per_1m_tokens": input_price,
             "output_price_per_1m_tokens": output, "unit_price": unit_price, "unit": unit,
             "effective_from": "2026-07-05", "source_url": "https://cloud.google.com/pricing"}
            for service, model, tier, input_price, output, unit_price, unit in RATES_1_0
        ],
    }  # fmt: skip
    for table in TABLES:
        create_table(dataset, table, special.get(table) or [row_1_0(table, 1), row_1_0(table, 2)])
    return dataset


def write_new_events(dataset: Dataset) -> dict[str, str]:
    """What il-audit writes after the migration: a model call's text, an out-of-scope query,
    a retrieval pass, an access change and a visit, captured from the real API and priced by
    the subscriber's core."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
        reset()
        try:
            with capture_events() as events:
                call = emit_model_call_text(
                    context=CHAT,
                    category="qa",
                    operation="generate_content",
                    model_id="gemini-2.0-flash",
                    prompt="New prompt",
                    completion="New answer",
                    correlation_id="turn-new",
                )
                emit_out_of_scope_query(context=CHAT, turn_id="turn-new", signal="soft_refusal")
                emit_retrieval_pass(
                    context=CHAT,
                    conversation_id="c-new",
                    turn_id="turn-new",
                    search_pass=1,
                    settings={"k": 8},
                )
                emit(
                    "auth.access_control.changed",
                    context=CHAT,
                    resource_type="library",
                    resource_id="lib-1",
                    application="admin",
                )
                emit_chat_visit_session(context=CHAT, visit_session_id="v-new")  # fmt: skip
        finally:
            reset()
    lines = [envelope_json(e.model_copy(update={"occurred_at": NEW_DAY})) for e in events]
    result = process_message(b"\n".join(lines), MessageMeta("m-new"), seed_catalog(), NEW_DAY)
    sink = BigQuerySink(dataset.client, dataset.name, retry_deadline=5.0, timeout=10.0)
    assert sink.write_events(result.rows) == {}
    assert call is not None
    return {"call_id": call}


@dataclass
class Migrated:
    """The dataset after the module's runs, and what each run said."""

    dataset: Dataset
    dry_run: Result
    kinds_after_dry_run: dict[str, str]
    first: Result
    second: MigrationReport
    new: dict[str, str]


def migrate(*options: str) -> Result:
    return CliRunner().invoke(cli, ["migrate", "from-1.0", *options])


@pytest.fixture(scope="module")
def bq(standin: BigQueryStandIn) -> Iterator[bigquery.Client]:
    client = stand_in_client(standin)
    yield client
    client.close()  # type: ignore[no-untyped-call]


def point_at(patch: pytest.MonkeyPatch, standin: BigQueryStandIn, dataset: Dataset) -> None:
    """Point the CLI's settings at ``dataset`` on the stand-in."""
    patch.setenv("GOOGLE_CLOUD_PROJECT", standin.project)
    patch.setenv("IL_BQ_AUDIT_DATASET", dataset.name)
    patch.setenv("IL_BQ_API_ENDPOINT", standin.url)


@pytest.fixture(scope="module")
def migrated(standin: BigQueryStandIn, bq: bigquery.Client) -> Iterator[Migrated]:
    """A 1.0.35 dataset: a dry run, the migration, a second run, then new events."""
    dataset = create_1_0_dataset(bq)
    try:
        with pytest.MonkeyPatch.context() as patch:
            point_at(patch, standin, dataset)
            dry_run = migrate("--dry-run", "--format", "json")
            kinds = {name: dataset.kind(name) for name in TABLES}
            first = migrate()
        settings = make_settings(project=standin.project, dataset=dataset.name,
                                 bq_api_endpoint=standin.url)  # fmt: skip
        second = migrate_from_1_0(settings, client=bq)
        new = write_new_events(dataset)
        yield Migrated(dataset, dry_run, kinds, first, second, new)
    finally:
        dataset.drop()


def stood_in() -> list[str]:
    """The 1.0.35 tables a view of this il-audit stands in for."""
    return [name for name in TABLES if name in legacy_view_names()]


def test_dry_run_lists_what_would_happen_and_changes_nothing(migrated: Migrated) -> None:
    """--dry-run --format json: a rename per table a view stands in for (and cost_rates), a
    skip for the others, the union views and the rates to merge; every table left as it was."""
    assert migrated.dry_run.exit_code == 0, migrated.dry_run.output
    report = json.loads(migrated.dry_run.output)
    steps = {(step["action"], step["name"]) for step in report["steps"]}

    assert report["release"] == "1.0"
    assert report["dry_run"] is True
    assert {name for action, name in steps if action == "rename"} == {*stood_in(), "cost_rates"}
    assert {name for action, name in steps if action == "skip" and name in TABLES} == (
        set(TABLES) - set(stood_in()) - {"cost_rates"}
    )
    unions = [c for c in report["changes"] if c["detail"].startswith("UNION ALL of legacy_")]
    assert len(unions) == len(stood_in())
    assert report["rates"]["merged"] == 5
    assert set(migrated.kinds_after_dry_run.values()) == {"TABLE"}


def test_tables_a_view_stands_in_for_live_on_as_legacy(migrated: Migrated) -> None:
    """Each such table is legacy_<name> with its rows and its name a view; a table no view
    stands in for yet is kept, and the run says so (exit 0)."""
    assert migrated.first.exit_code == 0, migrated.first.output
    for name in TABLES:
        if name in stood_in():
            assert migrated.dataset.kind(name) == "VIEW", name
            (row,) = migrated.dataset.query(f"SELECT COUNT(*) AS n FROM {{ds}}.legacy_{name}")
            assert row["n"] == (1 if name == "model_call_text" else 2), name
        elif name != "cost_rates":
            assert migrated.dataset.kind(name) == "TABLE", name
            assert f"- skip         {name}  (no view stands in" in migrated.first.output


def test_views_keep_their_columns_when_they_read_legacy_rows(migrated: Migrated) -> None:
    """After the union, a view for a table new in 1.0.35 has exactly 1.0.35's columns (§5.6),
    and a 0.1.3 one 0.1.3's as its prefix: the legacy half is mapped onto them by name. One
    of each kind (the union is built the same way for all; a dry run costs ~0.4 s here): an
    event view, a chat view, a typed empty one with an array, 0.1.3 views whose columns 1.0
    dropped (batch_id, summary_scope)."""
    kinds = ["access_control_events", "model_call_text", "notification_sends", "auth_events",
             "chat_turns"]  # fmt: skip
    dry_run = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
    legacy = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
    for name in [name for name in kinds if name in stood_in()]:
        job = migrated.dataset.client.query(
            f"SELECT * FROM `{migrated.dataset.ref(name)}`", job_config=dry_run
        )
        columns = [
            (f.name, legacy.get(f.field_type, f.field_type), f.mode == "REPEATED")
            for f in job.schema or ()
        ]
        if name in SEED_TABLES:
            seed = [(column, kind, False) for column, kind in seed_schema.columns(name)]
            assert columns[: len(seed)] == seed, name
        else:
            sheet = seed_schema.tables_1_0_35()[name]
            assert columns == [(c.name, c.type, c.mode == "REPEATED") for c in sheet], name


def test_a_second_run_changes_nothing(migrated: Migrated) -> None:
    """Renames nothing, changes no view, merges no rate twice."""
    report = migrated.second

    assert report.ok, [step.line() for step in report.steps]
    assert report.summary().startswith("nothing to migrate")
    assert {change.action for change in report.changes} == {"unchanged"}
    assert report.rates is not None
    assert report.rates.new == []


def test_rates_are_merged_with_their_tiers(migrated: Migrated) -> None:
    """1.0's rates keep their pricing_tier (a blank one is standard), as NUMERIC; a price too
    fine for NUMERIC is skipped and said."""
    rows = migrated.dataset.query(
        "SELECT service, model_id, pricing_tier, input_price_per_1m_tokens AS input, unit_price "
        "FROM {ds}.cost_rates ORDER BY service, model_id, pricing_tier"
    )

    assert [(r["service"], r["model_id"], r["pricing_tier"], r["input"]) for r in rows] == [
        ("cloud_run", "cpu_second", "standard", Decimal(0)),
        ("vertex_embedding", "gemini-embedding-001", "standard", Decimal("0.025")),
        ("vertex_gemini", "gemini-2.0-flash", "batch", Decimal("0.075")),
        ("vertex_gemini", "gemini-2.0-flash", "standard", Decimal("0.15")),
        ("vertex_rerank", "semantic-ranker-default", "standard", Decimal(0)),
    ]
    assert rows[-1]["unit_price"] == Decimal("0.001")
    assert "gcs/storage_byte@2026-08-31" in migrated.first.output
    assert "tiers: batch, standard" in migrated.first.output


def test_rows_1_0_wrote_read_next_to_new_rows(migrated: Migrated) -> None:
    """model_call_text, out_of_scope_queries, retrieval_passes and auth_events read the 1.0
    rows (columns 1.0 dropped, such as batch_id, as NULL) and the new events as one."""
    calls = migrated.dataset.query(
        "SELECT call_id, environment, prompt, completion, DATE(logged_at) AS day "
        "FROM {ds}.model_call_text ORDER BY day"
    )
    out_of_scope = migrated.dataset.query(
        "SELECT turn_id, signal FROM {ds}.out_of_scope_queries ORDER BY turn_id"
    )
    passes = migrated.dataset.query(
        "SELECT turn_id, search_pass FROM {ds}.retrieval_passes ORDER BY turn_id"
    )
    logins = migrated.dataset.query(
        "SELECT event_type, actor_uid, batch_id, trace_id FROM {ds}.auth_events ORDER BY event_type"
    )

    assert calls == [
        {"call_id": "call-old", "environment": "production", "prompt": "Old prompt",
         "completion": "Old answer", "day": date(2026, 10, 1)},
        {"call_id": migrated.new["call_id"], "environment": "staging", "prompt": "New prompt",
         "completion": "New answer", "day": date(2026, 11, 30)},
    ]  # fmt: skip
    assert out_of_scope == [
        {"turn_id": "turn-new", "signal": "soft_refusal"},
        {"turn_id": "turn_id-1", "signal": "signal-1"},
        {"turn_id": "turn_id-2", "signal": "signal-2"},
    ]
    assert passes == [
        {"turn_id": "turn-new", "search_pass": 1},
        {"turn_id": "turn_id-1", "search_pass": 1},
        {"turn_id": "turn_id-2", "search_pass": 2},
    ]
    assert logins == [
        {"event_type": "auth.login.failed", "actor_uid": "u-old", "batch_id": None,
         "trace_id": None},
        {"event_type": "auth.login.succeeded", "actor_uid": "u-old", "batch_id": None,
         "trace_id": None},
    ]  # fmt: skip


def test_rows_1_0_wrote_in_its_newer_tables_read_through_their_views(migrated: Migrated) -> None:
    """The tables other work gave views (access_control_events, chat_visit_sessions, and the
    legacy-only chat_feedback, content_reports, notification_sends) read their 1.0 rows, next
    to the new events where il-audit writes them; a repeated column stays an array."""
    for name in ("access_control_events", "chat_visit_sessions", "chat_feedback",
                 "content_reports", "notification_sends"):  # fmt: skip
        if name not in legacy_view_names():
            pytest.skip(f"no view stands in for {name} in this il-audit yet")
    ds = migrated.dataset

    access = ds.query("SELECT event_id, application FROM {ds}.access_control_events "
                      "ORDER BY application")  # fmt: skip
    visits = ds.query("SELECT visit_session_id, environment FROM {ds}.chat_visit_sessions "
                      "ORDER BY visit_session_id")  # fmt: skip
    sends = ds.query("SELECT send_id, cc_emails FROM {ds}.notification_sends ORDER BY send_id")
    feedback = ds.query("SELECT feedback_id, rating FROM {ds}.chat_feedback ORDER BY rating")
    reports = ds.query("SELECT report_id FROM {ds}.content_reports ORDER BY report_id")

    assert [row["application"] for row in access] == ["admin", "application-1", "application-2"]
    assert visits == [
        {"visit_session_id": "v-new", "environment": "staging"},
        {"visit_session_id": "visit_session_id-1", "environment": "production"},
        {"visit_session_id": "visit_session_id-2", "environment": "production"},
    ]
    assert sends == [
        {"send_id": "send_id-1", "cc_emails": ["cc_emails-1@example.com"]},
        {"send_id": "send_id-2", "cc_emails": ["cc_emails-2@example.com"]},
    ]
    assert feedback == [
        {"feedback_id": "feedback_id-1", "rating": 1},
        {"feedback_id": "feedback_id-2", "rating": 2},
    ]
    assert reports == [{"report_id": "report_id-1"}, {"report_id": "report_id-2"}]


def test_an_active_1_0_writer_stops_the_migration(
    standin: BigQueryStandIn, bq: bigquery.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notification_sends row sent minutes ago (sent_at) refuses from-1.0 (exit 1), and
    from-0.1 on a 1.0 dataset says to run from-1.0; neither changes anything."""
    dataset = new_dataset(bq, "active_1_0")
    try:
        recent = datetime.now(UTC) - timedelta(minutes=5)
        create_table(dataset, "auth_events", [row_1_0("auth_events", 1)])
        create_table(dataset, "notification_sends", [row_1_0("notification_sends", 1, recent)])
        point_at(monkeypatch, standin, dataset)

        wrong_era = CliRunner().invoke(cli, ["migrate", "from-0.1"])
        refused = migrate("--active-minutes", "30", "--format", "json")

        assert wrong_era.exit_code == 1, wrong_era.output
        assert "run `il-audit migrate from-1.0`" in wrong_era.output
        assert refused.exit_code == 1, refused.output
        report = json.loads(refused.output)
        assert report["refused"] is True
        assert [(s["action"], s["name"]) for s in report["steps"]] == [
            ("refuse", "notification_sends")
        ]
        assert {dataset.kind("auth_events"), dataset.kind("notification_sends")} == {"TABLE"}
    finally:
        dataset.drop()
