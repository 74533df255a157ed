"""`il-audit migrate from-0.1` against the BigQuery stand-in, on datasets shaped like 0.1.3's.

Each dataset gets the twelve 0.1.3 tables, created from the facts sheet's
schemas (``tests/support/seed_schema.py``) and filled with rows; the tests
migrate it and read the old names back, history and new events as one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.cloud import bigquery

from il_audit.cli import cli
from il_audit.operations.migrate import MigrationReport, migrate_from_0_1
from il_audit.sql import COMPAT_VIEW_NAMES
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import seed_schema
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.factories import envelope_line, make_settings, seed_token_cost
from tests.support.legacy_datasets import Dataset, filled_row, new_dataset, stand_in_client

HISTORY = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NEW_DAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SEED_RATES = [
    # 0.1.3's bundled catalog, as an operator would have loaded it into cost_rates (FLOAT64).
    ("vertex_gemini", "gemini-2.5-flash-lite", 0.075, 0.3, None, "tokens"),
    ("vertex_gemini", "gemini-2.0-flash", 0.1, 0.4, None, "tokens"),
    ("vertex_gemini", "gemini-3.1-flash-lite", 0.1, 0.4, None, "tokens"),
    ("vertex_embedding", "gemini-embedding-001", 0.025, 0.0, None, "tokens"),
    ("cloud_run", "cpu_second", 0.0, 0.0, 0.000024, "vCPU_second"),
    ("gcs", "storage_byte", 0.0, 0.0, 2e-11, "byte"),
]


def seed_row(table: str, logged_at: datetime, index: int, **values: Any) -> dict[str, Any]:
    """A plausible 0.1.3 row of ``table``: every column filled by its type, then ``values``."""
    return filled_row(seed_schema.columns(table), logged_at, index, **values)


def create_0_1_3_dataset(client: bigquery.Client, *, last_write: datetime = HISTORY) -> Dataset:
    """A dataset with the twelve 0.1.3 tables, two rows in each event table, and the rates."""
    dataset = new_dataset(client)
    for table in seed_schema.seed_tables():
        client.create_table(bigquery.Table(dataset.ref(table), seed_schema.schema_fields(table)))
    rows: dict[str, list[dict[str, Any]]] = {
        "auth_events": [
            seed_row("auth_events", HISTORY, 1, event_type="auth.login.succeeded",
                     module="auth", app="ingest", actor_uid="u-old", batch_id=None),
            seed_row("auth_events", last_write, 2, event_type="auth.login.failed",
                     module="auth", app="ingest", actor_uid="u-old", batch_id=None,
                     metadata_json=json.dumps({"reason": "bad_password"})),
        ],
        "api_usage_events": [
            seed_row("api_usage_events", HISTORY, 1, model_id="gemini-2.0-flash",
                     input_tokens=1_000_000, output_tokens=200_000, total_tokens=1_200_000,
                     estimated_cost_usd=0.18, pricing_version="2026-07-01",
                     pricing_source="seed_catalog"),
            seed_row("api_usage_events", HISTORY, 2, model_id="gemini-2.5-flash-lite",
                     input_tokens=1234, output_tokens=567, total_tokens=1801,
                     estimated_cost_usd=0.00026265),
        ],
        "cost_rates": [
            {"rate_version": "2026-07-01", "service": service, "model_id": model,
             "input_price_per_1m_tokens": input_price, "output_price_per_1m_tokens": output,
             "unit_price": unit_price, "unit": unit, "effective_from": "2026-07-01",
             "source_url": "https://cloud.google.com/pricing"}
            for service, model, input_price, output, unit_price, unit in SEED_RATES
        ] + [{"rate_version": "draft", "service": "vertex_gemini", "model_id": "gemini-9",
              "input_price_per_1m_tokens": 1.0}],
    }  # fmt: skip
    for table in seed_schema.seed_tables():
        if table not in rows:
            rows[table] = [seed_row(table, HISTORY, 1), seed_row(table, HISTORY, 2)]
        assert client.insert_rows_json(dataset.ref(table), rows[table]) == []
    return dataset


def write_new_events(dataset: Dataset) -> list[dict[str, Any]]:
    """Events written by il-audit after the migration: a login, an API call and a chat turn."""
    lines = [
        envelope_line(event_type="auth.login.succeeded", actor_uid="u-new",
                      occurred_at=NEW_DAY.isoformat()),
        envelope_line(event_type="cost.api.usage", occurred_at=NEW_DAY.isoformat(),
                      usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                              "input_tokens": 1000, "output_tokens": 100}]),
        envelope_line(event_type="chat.turn.succeeded", event_id="turn-new", session_id="s-new",
                      occurred_at=NEW_DAY.isoformat(),
                      payload={"input_tokens": 40, "output_tokens": 8, "workflow": "qa"}),
    ]  # fmt: skip
    result = process_message(b"\n".join(lines), MessageMeta("m-new"), seed_catalog(), NEW_DAY)
    sink = BigQuerySink(dataset.client, dataset.name, retry_deadline=5.0, timeout=10.0)
    assert sink.write_events(result.rows) == {}
    return result.rows


@pytest.fixture(scope="module")
def bq(standin: BigQueryStandIn) -> Iterator[bigquery.Client]:
    client = stand_in_client(standin)
    yield client
    client.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def migrated(standin: BigQueryStandIn, bq: bigquery.Client) -> Iterator[Dataset]:
    """A 0.1.3 dataset, migrated, then written to by il-audit."""
    dataset = create_0_1_3_dataset(bq)
    settings = make_settings(project=standin.project, dataset=dataset.name,
                             bq_api_endpoint=standin.url)  # fmt: skip
    report = migrate_from_0_1(settings, client=bq)
    assert report.ok, [step.line() for step in report.steps]
    write_new_events(dataset)
    yield dataset
    bq.delete_dataset(f"{bq.project}.{dataset.name}", delete_contents=True, not_found_ok=True)


@pytest.fixture
def fresh(standin: BigQueryStandIn, bq: bigquery.Client, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make a 0.1.3 dataset (last write given) and point the CLI's settings at it."""
    made: list[Dataset] = []

    def make(last_write: datetime = HISTORY) -> Dataset:
        dataset = create_0_1_3_dataset(bq, last_write=last_write)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", standin.project)
        monkeypatch.setenv("IL_BQ_AUDIT_DATASET", dataset.name)
        monkeypatch.setenv("IL_BQ_API_ENDPOINT", standin.url)
        made.append(dataset)
        return dataset

    yield make
    for dataset in made:
        bq.delete_dataset(f"{bq.project}.{dataset.name}", delete_contents=True, not_found_ok=True)


def migrate(*options: str, command: str = "from-0.1") -> Result:
    return CliRunner().invoke(cli, ["migrate", command, *options])


# ---------------------------------------------------------------------------- after migration


def test_old_names_are_views_and_the_tables_live_on_as_legacy(migrated: Dataset) -> None:
    """Each 0.1.3 table with a compat view is now legacy_<name>, with its rows; the name a view."""
    for name in COMPAT_VIEW_NAMES:
        assert migrated.kind(name) == "VIEW", name
        assert migrated.kind(f"legacy_{name}") == "TABLE", name
        (row,) = migrated.query(f"SELECT COUNT(*) AS n FROM {{ds}}.legacy_{name}")
        assert row["n"] == 2, name


def test_old_names_read_history_and_new_events_as_one(migrated: Dataset) -> None:
    """A seed-era query on auth_events counts the 0.1.3 rows and the new events together."""
    rows = migrated.query(
        """
        SELECT DATE(logged_at) AS day, COUNTIF(event_type = 'auth.login.succeeded') AS logins,
          COUNTIF(event_type = 'auth.login.failed') AS failures,
          STRING_AGG(actor_uid, ',' ORDER BY actor_uid) AS actors
        FROM {ds}.auth_events
        GROUP BY day
        ORDER BY day
        """
    )

    assert rows == [
        {"day": date(2026, 10, 1), "logins": 1, "failures": 1, "actors": "u-old,u-old"},
        {"day": date(2026, 11, 30), "logins": 1, "failures": 0, "actors": "u-new"},
    ]


def test_api_costs_add_up_across_history_and_new_events(migrated: Dataset) -> None:
    """api_usage_events sums 0.1.3's estimated_cost_usd with the costs il-audit priced since."""
    rows = migrated.query(
        """
        SELECT model_id, COUNT(*) AS calls, SUM(total_tokens) AS tokens,
          ROUND(SUM(estimated_cost_usd), 8) AS cost_usd
        FROM {ds}.api_usage_events
        GROUP BY model_id
        ORDER BY model_id
        """
    )

    # gemini-2.0-flash: 0.18 (0.1.3) + the new event's 1000 in, 100 out at today's prices
    new = float(seed_token_cost("gemini-2.0-flash", 1000, 100))
    assert rows == [
        {
            "model_id": "gemini-2.0-flash",
            "calls": 2,
            "tokens": 1_201_100,
            "cost_usd": round(0.18 + new, 8),
        },
        {"model_id": "gemini-2.5-flash-lite", "calls": 1, "tokens": 1801, "cost_usd": 0.00026265},
    ]


def test_union_views_keep_the_seed_columns_and_types(migrated: Dataset) -> None:
    """After the migration, every compat view still has the 0.1.3 columns and types (then the
    later columns of the chat views)."""
    for name in COMPAT_VIEW_NAMES:
        result = migrated.client.query(f"SELECT * FROM `{migrated.ref(name)}` LIMIT 0").result()
        legacy = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
        columns = [
            (item.name, legacy.get(item.field_type, item.field_type)) for item in result.schema
        ]
        assert columns == seed_schema.columns(name) + seed_schema.later_columns(name), name


def test_seed_rates_are_merged_into_a_numeric_cost_rates(migrated: Dataset) -> None:
    """cost_rates is ours (NUMERIC), with the 0.1.3 rates that fit; the original is kept."""
    types = {item.name: item.field_type for item in migrated.client.get_table(
        migrated.ref("cost_rates")).schema}  # fmt: skip
    rows = migrated.query(
        "SELECT service, model_id, effective_from, input_price_per_1m_tokens, unit_price "
        "FROM {ds}.cost_rates ORDER BY service, model_id"
    )

    assert types["input_price_per_1m_tokens"] == "NUMERIC"
    assert [(row["service"], row["model_id"]) for row in rows] == [
        ("cloud_run", "cpu_second"),
        ("vertex_embedding", "gemini-embedding-001"),
        ("vertex_gemini", "gemini-2.0-flash"),
        ("vertex_gemini", "gemini-2.5-flash-lite"),
        ("vertex_gemini", "gemini-3.1-flash-lite"),
    ]  # not gcs/storage_byte (2e-11 does not fit NUMERIC), not the undated draft
    assert rows[0]["unit_price"] == Decimal("0.000024")
    assert rows[3]["input_price_per_1m_tokens"] == Decimal("0.075")
    assert {row["effective_from"] for row in rows} == {date(2026, 7, 1)}
    assert migrated.kind("legacy_cost_rates") == "TABLE"


def test_chat_views_read_the_0_1_3_rows_and_new_turns_as_one(migrated: Dataset) -> None:
    """chat_turns and chat_sessions read their 0.1.3 rows (later columns NULL) and new turns."""
    turns = migrated.query(
        "SELECT turn_id, session_id, input_tokens, workflow FROM {ds}.chat_turns ORDER BY turn_id"
    )
    sessions = migrated.query(
        "SELECT session_id, turn_count, total_output_tokens, conversation_id "
        "FROM {ds}.chat_sessions ORDER BY session_id"
    )

    assert turns == [
        {"turn_id": "turn-new", "session_id": "s-new", "input_tokens": 40, "workflow": "qa"},
        {"turn_id": "turn_id-1", "session_id": "session_id-1", "input_tokens": 1,
         "workflow": None},
        {"turn_id": "turn_id-2", "session_id": "session_id-2", "input_tokens": 2,
         "workflow": None},
    ]  # fmt: skip
    assert sessions == [
        {"session_id": "s-new", "turn_count": 1, "total_output_tokens": 8,
         "conversation_id": "s-new"},
        {"session_id": "session_id-1", "turn_count": 1, "total_output_tokens": 1,
         "conversation_id": None},
        {"session_id": "session_id-2", "turn_count": 2, "total_output_tokens": 2,
         "conversation_id": None},
    ]  # fmt: skip


def test_a_1_0_35_chat_turns_table_keeps_its_later_columns(fresh: Any) -> None:
    """A chat_turns table with 1.0.35's columns (conversation_id..., no summary_scope) is
    migrated like a 0.1.3 one, and its view reads the columns the two share."""
    dataset = fresh()
    dataset.client.delete_table(dataset.ref("chat_turns"))
    columns = dict(seed_schema.columns("chat_turns"))
    del columns["summary_scope"]
    columns.update(seed_schema.later_columns("chat_turns")[:10])  # 1.0.35's, not ours
    table = bigquery.Table(
        dataset.ref("chat_turns"),
        [bigquery.SchemaField(name, kind) for name, kind in columns.items()],
    )
    dataset.client.create_table(table)
    row = {
        "turn_id": "t-1035",
        "app": "chat",
        "logged_at": HISTORY.isoformat(),
        "session_id": "c-1",
        "conversation_id": "c-1",
        "message_count": 4,
        "workflow": "qa",
    }
    assert dataset.client.insert_rows_json(dataset.ref("chat_turns"), [row]) == []  # fmt: skip

    result = migrate()

    assert result.exit_code == 0, result.output
    assert dataset.query(
        "SELECT turn_id, conversation_id, message_count, workflow, summary_scope, model_calls "
        "FROM {ds}.chat_turns"
    ) == [
        {"turn_id": "t-1035", "conversation_id": "c-1", "message_count": 4, "workflow": "qa",
         "summary_scope": None, "model_calls": None},
    ]  # fmt: skip


def test_migrating_again_changes_nothing(migrated: Dataset, standin: BigQueryStandIn) -> None:
    """A second run renames nothing, changes no view and merges no rate twice."""
    settings = make_settings(project=standin.project, dataset=migrated.name,
                             bq_api_endpoint=standin.url)  # fmt: skip

    report: MigrationReport = migrate_from_0_1(settings, client=migrated.client)

    assert report.ok
    assert report.summary().startswith("nothing to migrate")
    assert not [step for step in report.steps if step.action == "rename"]
    assert {change.action for change in report.changes} == {"unchanged"}
    assert report.rates is not None
    assert report.rates.new == []
    (row,) = migrated.query("SELECT COUNT(*) AS n FROM {ds}.cost_rates")
    assert row["n"] == 5


# ---------------------------------------------------------------------------- the command


@pytest.mark.parametrize("command", ["from-0.1", "from-1.0"])
def test_cli_migrates_and_a_second_run_reports_nothing_to_do(fresh: Any, command: str) -> None:
    """`il-audit migrate from-0.1` renames, creates the views, and is idempotent (exit 0 twice);
    `from-1.0` takes a 0.1.3 dataset too (its tables are 1.0's)."""
    dataset = fresh()

    first = migrate(command=command)
    second = migrate(command=command)

    assert first.exit_code == 0, first.output
    assert "> rename       auth_events" in first.output
    assert "+ view" in first.output
    assert second.exit_code == 0, second.output
    assert "nothing to migrate" in second.output
    assert dataset.kind("auth_events") == "VIEW"


def test_dry_run_changes_nothing_and_shows_the_plan(fresh: Any) -> None:
    """--dry-run lists the renames, the union views and the rates, and leaves the dataset as is."""
    dataset = fresh()

    result = migrate("--dry-run")

    assert result.exit_code == 0, result.output
    assert "would copy 2 rows to legacy_auth_events" in result.output
    assert "UNION ALL of legacy_auth_events and the new rows" in result.output
    assert "would merge 5 0.1.3 rate(s)" in result.output
    # The same plan as one JSON document; the dry run set by IL_AUDIT_DRY_RUN (docs/cli.md).
    as_json = CliRunner().invoke(
        cli, ["migrate", "from-0.1", "--format", "json"], env={"IL_AUDIT_DRY_RUN": "1"}
    )
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert (document["release"], document["dry_run"], document["ok"]) == ("0.1.3", True, True)
    assert document["rates"]["merged"] == 5
    assert document["summary"] in result.output
    assert dataset.kind("auth_events") == "TABLE"
    with pytest.raises(Exception, match="Not found"):
        dataset.client.get_table(dataset.ref("legacy_auth_events"))


def test_refuses_while_a_0_1_3_writer_is_active(fresh: Any) -> None:
    """A 0.1.3 row from a few minutes ago stops the migration (exit 1), nothing renamed."""
    dataset = fresh(last_write=datetime.now(UTC) - timedelta(minutes=5))

    result = migrate("--active-minutes", "30")

    assert result.exit_code == 1, result.output
    assert "! refuse       auth_events" in result.output
    assert "refused" in result.output
    assert dataset.kind("auth_events") == "TABLE"


def test_force_migrates_despite_an_active_writer(fresh: Any) -> None:
    """--force goes on (and says so) although a 0.1.3 writer looks active."""
    dataset = fresh(last_write=datetime.now(UTC) - timedelta(minutes=5))

    result = migrate("--active-minutes", "30", "--force")

    assert result.exit_code == 0, result.output
    assert "! forced       auth_events" in result.output
    assert dataset.kind("auth_events") == "VIEW"


def test_an_interrupted_rename_is_finished(fresh: Any) -> None:
    """A run stopped between copy and drop left both tables: the next run drops the original."""
    dataset = fresh()
    copy = dataset.client.copy_table(dataset.ref("auth_events"), dataset.ref("legacy_auth_events"))
    copy.result()

    result = migrate()

    assert result.exit_code == 0, result.output
    assert "legacy_auth_events already holds its 2 rows" in result.output
    assert dataset.kind("auth_events") == "VIEW"
    (row,) = dataset.query("SELECT COUNT(*) AS n FROM {ds}.auth_events")
    assert row["n"] == 2


def test_differing_leftovers_are_reported_and_kept(fresh: Any) -> None:
    """If legacy_<name> exists with other rows, the table is left alone and the run fails."""
    dataset = fresh()
    dataset.client.create_table(
        bigquery.Table(dataset.ref("legacy_auth_events"), seed_schema.schema_fields("auth_events"))
    )

    result = migrate()

    assert result.exit_code == 1, result.output
    assert "both auth_events (2 rows) and legacy_auth_events (0 rows) exist" in result.output
    assert dataset.kind("auth_events") == "TABLE"
    assert dataset.kind("ingest_job_events") == "VIEW"
