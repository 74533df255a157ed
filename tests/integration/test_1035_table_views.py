"""1.0.35's tables as views on both engines: the new ones, the legacy-only ones, and the
columns 1.0.35 added to the 0.1.3 tables.

A 1.0.35 host's events (access control, library, access denied, login provider, a 1.0.35
ui.* type, an ingest file with its 1.0.35 fields, usage) are emitted through the real API;
they go through the embedded mode's pipeline and sink into DuckDB, and through the
function's pipeline and the Storage Write API into the BigQuery stand-in, where
``infra apply``'s code creates the views. Each view must have exactly the columns of
:mod:`il_audit.schemas.seed_tables_1035` (pinned to the facts sheet by
``tests/compat/test_1035_warehouse.py``) or, for a 0.1.3 table, 0.1.3's then 1.0.35's
additions; values are computed here from what the app passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from il_audit.publisher import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.descriptions import described_columns
from il_audit.schemas.envelope import Envelope
from il_audit.sql import LEGACY_VIEW_NAMES
from tests.support.engine_fixtures import workload_engines
from tests.support.scenario import Step, Workload, api_usage, event, play, resource_usage
from tests.support.warehouses import (
    Engine,
    by,
)

CTX = AuditContext(
    app="library", actor_uid="u-1", actor_email="u1@example.com", trace_id="trace-1",
    environment="production",
)  # fmt: skip
STARTED = "2026-11-20T08:00:00+00:00"
LIBRARY = [
    # (event type, emit() keywords, the interaction 1.0.35's table holds)
    (T.LIBRARY_TAG_CHANGED, {"drive_file_id": "f-1", "file_name": "a.pdf",
                             "before": {"tags": []}, "after": {"tags": ["hr"]}}, "tag"),
    (T.LIBRARY_ACCESS_CHANGED, {"selection_id": "s-1"}, "access"),
    (T.LIBRARY_OWNERSHIP_CHANGED, {"resource_type": "file", "resource_id": "f-2"}, "ownership"),
    (T.LIBRARY_FILE_DELETED, {"drive_file_id": "f-3", "batch_id": "b-1",
                              "correlation_id": "job-9", "started_at": STARTED,
                              "elapsed_seconds": 1.5, "error": "gone",
                              "error_traceback": "Traceback..."}, "delete"),
    (T.LIBRARY_CONSENT_REFRESHED, {"metadata": {"by": "admin"}}, "consent"),
    # an interaction the event gives is kept
    (T.LIBRARY_REPORT_ACKNOWLEDGED, {"interaction": "acknowledge_all"}, "acknowledge_all"),
]  # fmt: skip


AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def steps() -> list[Step]:
    """The host's calls, as a 1.0.35 host makes them, a minute apart."""
    at = (AT + timedelta(minutes=minute) for minute in range(100))
    return [
        event(next(at), T.AUTH_ACCESS_CONTROL_CHANGED, CTX, action="grant", status="succeeded",
              resource_type="library", resource_id="lib-1", before={"role": None},
              after={"role": "editor"}, application="library"),
        *(event(next(at), event_type, CTX, **fields) for event_type, fields, _ in LIBRARY),
        event(next(at), T.AUTH_ACCESS_DENIED, CTX, status="failed", path="/admin"),
        event(next(at), T.AUTH_LOGIN_SUCCEEDED, CTX, login_provider="google", path="/login"),
        event(next(at), T.UI_TOUR_STARTED, CTX, surface="chat", element_id="tour",
              interaction="start", path="/chat"),
        event(next(at), T.INGEST_FILE_INDEXED, CTX, job_id="j-1", correlation_id="j-1",
              started_at=STARTED, ingestion_type="library_reindex"),
        api_usage(next(at), CTX, service="vertex_gemini", operation="generate_content",
                  model_id="gemini-2.0-flash", category="answer", input_tokens=10,
                  output_tokens=2),
        resource_usage(next(at), CTX, resource_type="cloud_run_cpu_seconds", quantity=2.0,
                       unit="second"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The host's events, captured from the real API with no il-audit variable set."""
    return play(steps())


duckdb_engine, bigquery_engine, engine = workload_engines("t1035")


def columns(name: str) -> list[tuple[str, str]]:
    """(name, type) of the view's columns as the package defines them, in order."""
    return [(column.name, column.type) for column in described_columns(name)]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def core(envelope: Envelope) -> dict[str, Any]:
    """1.0.35's event head (CORE) of one event."""
    return {
        "event_id": envelope.event_id, "logged_at": envelope.occurred_at, "app": "library",
        "environment": "production", "module": envelope.event_type.split(".")[0],
        "event_type": envelope.event_type, "actor_uid": "u-1", "actor_email": "u1@example.com",
        "action": envelope.action, "status": envelope.status, "source": envelope.source,
    }  # fmt: skip


def test_access_control_events_has_1_0_35_columns_and_the_change(
    engine: Engine, workload: Workload
) -> None:
    """17 columns in 1.0.35's order and types; the change with its before/after state."""
    (event,) = workload.of_type(T.AUTH_ACCESS_CONTROL_CHANGED)

    (row,) = engine.rows("access_control_events")

    assert engine.columns("access_control_events") == columns("access_control_events")
    assert row == {
        **core(event), "resource_type": "library", "resource_id": "lib-1",
        "before_json": '{"role":null}', "after_json": '{"role":"editor"}',
        "metadata_json": None, "application": "library",
    }  # fmt: skip


def test_library_interaction_events_has_1_0_35_columns_and_the_interaction(
    engine: Engine, workload: Workload
) -> None:
    """26 columns in 1.0.35's order and types; one row per library.* event, interaction from
    the event type (or as passed), the 1.0.35 fields from the emit() keywords."""
    expected = []
    for envelope, (_type, fields, interaction) in zip(
        workload.of_type(*(item[0] for item in LIBRARY)), LIBRARY, strict=True
    ):
        expected.append(
            {
                **core(envelope),
                "resource_type": fields.get("resource_type"),
                "resource_id": fields.get("resource_id"),
                "before_json": '{"tags":[]}' if "before" in fields else None,
                "after_json": '{"tags":["hr"]}' if "after" in fields else None,
                "metadata_json": '{"by":"admin"}' if "metadata" in fields else None,
                "batch_id": fields.get("batch_id"),
                "correlation_id": fields.get("correlation_id"),
                "selection_id": fields.get("selection_id"),
                "drive_file_id": fields.get("drive_file_id"),
                "file_name": fields.get("file_name"),
                "interaction": interaction,
                "started_at": when(STARTED) if "started_at" in fields else None,
                "elapsed_seconds": fields.get("elapsed_seconds"),
                "error": fields.get("error"),
                "error_traceback": fields.get("error_traceback"),
            }
        )

    rows = engine.rows("library_interaction_events")

    assert engine.columns("library_interaction_events") == columns("library_interaction_events")
    assert by(rows, "event_id") == by(expected, "event_id")


@pytest.mark.parametrize("name", LEGACY_VIEW_NAMES)
def test_legacy_views_have_1_0_35_columns_and_no_row(engine: Engine, name: str) -> None:
    """chat_feedback, content_reports and notification_sends: 1.0.35's columns, no row."""
    found = engine.columns(name)

    assert [column for column, _type in found] == [column for column, _type in columns(name)]
    scalar = [(c, t) for (c, t), spec in zip(found, described_columns(name), strict=True)
              if spec.mode != "REPEATED"]  # fmt: skip
    assert scalar == [(c.name, c.type) for c in described_columns(name) if c.mode != "REPEATED"]
    assert engine.rows(name) == []


def test_auth_events_routes_access_denied_and_has_login_provider_and_path(
    engine: Engine, workload: Workload
) -> None:
    """auth.access.denied lands in auth_events, as 1.0.35 routes it; environment,
    login_provider and path follow the 0.1.3 columns."""
    (denied,) = workload.of_type(T.AUTH_ACCESS_DENIED)
    (login,) = workload.of_type(T.AUTH_LOGIN_SUCCEEDED)

    rows = {row["event_id"]: row for row in engine.rows("auth_events")}

    assert [name for name, _type in engine.columns("auth_events")][-3:] == [
        "environment", "login_provider", "path",
    ]  # fmt: skip
    assert {k: rows[denied.event_id][k] for k in ("status", "environment", "path")} == {
        "status": "failed", "environment": "production", "path": "/admin",
    }  # fmt: skip
    assert rows[login.event_id]["login_provider"] == "google"


def test_ui_interaction_events_covers_every_ui_type_with_path(
    engine: Engine, workload: Workload
) -> None:
    """A 1.0.35 ui.* type (not one of 0.1.3's eight) is a row, with environment and path."""
    (tour,) = workload.of_type(T.UI_TOUR_STARTED)

    (row,) = [r for r in engine.rows("ui_interaction_events") if r["event_id"] == tour.event_id]

    assert {k: row[k] for k in ("surface", "interaction", "environment", "path")} == {
        "surface": "chat", "interaction": "start", "environment": "production", "path": "/chat",
    }  # fmt: skip


def test_ingest_file_events_has_1_0_35_fields_and_usage_views_the_environment(
    engine: Engine,
) -> None:
    """ingest_file_events' correlation_id, started_at, ingestion_type, error_traceback, and
    environment on the usage views."""
    (row,) = engine.rows("ingest_file_events")
    (api,) = engine.rows("api_usage_events")
    (resource,) = engine.rows("resource_usage_events")

    assert {k: row[k] for k in ("environment", "correlation_id", "started_at",
                                "ingestion_type", "error_traceback")} == {
        "environment": "production", "correlation_id": "j-1", "started_at": when(STARTED),
        "ingestion_type": "library_reindex", "error_traceback": None,
    }  # fmt: skip
    assert api["environment"] == resource["environment"] == "production"
    assert list(api)[-2:] == ["environment", "metadata_json"]
