"""Seals and verify on the embedded DuckDB file: issue 26's scenario, late rows, tampering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from il_audit.operations.erase import erase
from il_audit.operations.erase_duckdb import DuckDBErasureStore
from il_audit.operations.erase_subject import Subject
from il_audit.operations.ledger import seal
from il_audit.operations.ledger_duckdb import DuckDBLedgerStore
from il_audit.operations.verify import verify
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink, apply_retention
from tests.support import ledger_scenario as s


def write(path: Path, events: list[dict[str, Any]], dead: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    sink = DuckDBSink(path, hold_seconds=0)
    try:
        if events:
            assert sink.write_events(events) == {}
        if dead:
            sink.write_dead_letters(dead)
    finally:
        sink.close()


def run_seal(path: Path, now: Any = s.NOW) -> dict[str, Any]:
    store = DuckDBLedgerStore(path)
    try:
        return s.as_json(seal(store, now=now))
    finally:
        store.close()


def run_verify(path: Path, now: Any = s.NOW) -> dict[str, Any]:
    store = DuckDBLedgerStore(path, read_only=True)
    try:
        return s.as_json(verify(store, s.POLICY, now=now))
    finally:
        store.close()


def sql(path: Path, statement: str) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute(statement)


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    """The scenario's rows, sealed at NOW."""
    path = tmp_path / "audit.duckdb"
    write(path, s.main_rows() + s.expiring_rows(), s.dead_letter_rows())
    first = run_seal(path)
    assert first["rows"] == 7
    assert first["periods"][0]["period_start"] == s.H_EXPIRING.isoformat()
    return path


def test_verify_names_exactly_the_deleted_and_the_changed_row(sealed: Path) -> None:
    """After a delete, a change, an erasure and a retention expiry, verify flags the delete
    and the change only; the erasure and the expiry are explained."""
    assert run_verify(sealed)["ok"] is True
    sql(sealed, f"DELETE FROM events WHERE event_id = '{s.DELETED}'")
    sql(sealed, f"UPDATE events SET app = 'forged' WHERE event_id = '{s.CHANGED}'")
    report = erase(DuckDBErasureStore(sealed), Subject.of(uid=s.PERSON), hash_key=s.HASH_KEY,
                   engine="duckdb", dry_run=False, operator="test")  # fmt: skip
    with duckdb.connect(str(sealed)) as db:
        db.execute("SET TimeZone = 'UTC'")
        assert apply_retention(db, s.POLICY, s.NOW)["ui"] == 2

    result = run_verify(sealed)

    assert result["ok"] is False
    assert s.kinds(result, "unexplained") == s.expected_unexplained()
    assert s.explanations(result) == {
        s.ERASED: f"erased:{report.erasure_id}",
        **dict.fromkeys(s.EXPIRED, "retention:ui"),
    }
    assert result["periods"]["expired"] == 1
    assert result["ledger_intact"] is True


def test_a_late_row_lands_in_the_next_seal_and_breaks_no_earlier_one(sealed: Path) -> None:
    """A row ingested into a sealed hour is sealed in the next run's late section; the
    earlier entries are unchanged and verify finds it intact."""
    before = run_verify(sealed)
    with duckdb.connect(str(sealed), read_only=True) as db:
        chain = db.execute("SELECT seal_hash FROM audit_ledger ORDER BY 1").fetchall()
    write(sealed, s.late_rows())
    assert s.kinds(run_verify(sealed), "unexplained") == [
        ("added", "01934e1a-0000-7000-8000-00000000c001")
    ]

    second = run_seal(sealed, s.NOW + timedelta(hours=2))

    assert second["late_rows"] == 1
    late = [(p["table_name"], p["late_count"]) for p in second["periods"] if p["late_count"]]
    assert late == [("events", 1)]
    assert (
        second["periods"][0]["period_start"]
        == (s.NOW - timedelta(minutes=30)).replace(minute=0).isoformat()
    )
    with duckdb.connect(str(sealed), read_only=True) as db:
        kept = db.execute(
            "SELECT seal_hash FROM audit_ledger WHERE sealed_at < ? ORDER BY 1",
            [second["sealed_at"]],
        ).fetchall()
    assert kept == chain
    after = run_verify(sealed, s.NOW + timedelta(hours=2))
    assert after["ok"] is True
    assert (after["rows"]["intact"], after["rows"]["late"]) == (before["rows"]["intact"] + 1, 1)
    assert run_seal(sealed, s.NOW + timedelta(hours=2))["periods"] == []


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_ledger SET row_count = row_count + 1 WHERE row_count > 0",
        "DELETE FROM audit_ledger WHERE row_count > 0 AND table_name = 'dead_letters'",
        "DELETE FROM audit_ledger_rows WHERE table_name = 'dead_letters'",
    ],
    ids=["entry-edited", "entry-deleted", "sealed-row-deleted"],
)
def test_an_edited_ledger_is_reported_as_changed(sealed: Path, tamper: str) -> None:
    """Editing an entry, removing one, or removing a sealed pair breaks the chain or a
    digest: verify says the ledger was changed and fails."""
    sql(sealed, tamper)

    result = run_verify(sealed)

    assert result["ok"] is False
    assert result["ledger_intact"] is False
    assert result["ledger_problems"]


def test_the_cli_seals_and_verify_exits_1_naming_a_deleted_row(tmp_path: Path) -> None:
    """`ledger seal` then `verify` through the CLI: 0 while intact; after a delete, exit 1
    and the JSON names the row; a missing database is exit 2 with one line."""
    from click.testing import CliRunner

    from il_audit.cli import cli

    path = tmp_path / "audit.duckdb"
    write(path, s.main_rows(), s.dead_letter_rows())
    runner = CliRunner()
    sealed = runner.invoke(cli, ["ledger", "seal", "--database", str(path), "--format", "json"])
    assert sealed.exit_code == 0, sealed.output
    assert json.loads(sealed.output)["rows"] == 5
    ok = runner.invoke(cli, ["verify", "--database", str(path), "--format", "json"])
    assert (ok.exit_code, json.loads(ok.output)["ok"]) == (0, True)
    sql(path, f"DELETE FROM events WHERE event_id = '{s.DELETED}'")

    failed = runner.invoke(cli, ["verify", "--database", str(path), "--format", "json"])
    table = runner.invoke(cli, ["verify", "--database", str(path)])
    missing = runner.invoke(cli, ["verify", "--database", str(tmp_path / "none.duckdb")])

    assert failed.exit_code == 1
    assert s.kinds(json.loads(failed.output), "unexplained") == [("missing", s.DELETED)]
    assert table.exit_code == 1
    assert s.DELETED in table.output
    assert "1 missing" in table.output
    assert missing.exit_code == 2
    assert "found audit.duckdb: add `--database" in missing.output


def test_a_seal_reads_events_within_the_occurred_at_bound_only(tmp_path: Path) -> None:
    """The scan is bounded by occurred_at (the partition column): an event that occurred
    6 days before its ingestion is sealed, one that occurred 8 days before is not."""
    path = tmp_path / "audit.duckdb"
    at = s.H_MAIN + timedelta(minutes=5)
    write(
        path,
        s.rows_at(
            at,
            s.event("01934e1a-0000-7000-8000-00000000d006", at - timedelta(days=6)),
            s.event("01934e1a-0000-7000-8000-00000000d008", at - timedelta(days=8)),
        ),
    )

    run_seal(path)

    with duckdb.connect(str(path), read_only=True) as db:
        sealed = db.execute("SELECT row_key FROM audit_ledger_rows").fetchall()
    assert sealed == [("01934e1a-0000-7000-8000-00000000d006",)]


def test_late_every_hours_looks_for_late_rows_only_when_sealing_such_an_hour(
    sealed: Path,
) -> None:
    """With late_every_hours=24, a late row waits for the run that seals hour 00 UTC."""
    write(sealed, s.late_rows())
    store = DuckDBLedgerStore(sealed)
    try:
        waiting = seal(store, now=s.NOW + timedelta(hours=12), late_every_hours=24)
        taken = seal(store, now=s.NOW + timedelta(hours=13, minutes=30), late_every_hours=24)
    finally:
        store.close()

    assert [p.period_start.hour for p in waiting.periods][-1] == 22
    assert waiting.as_dict()["late_rows"] == 0
    assert [p.period_start.hour for p in taken.periods] == [23, 23, 0, 0]
    assert taken.as_dict()["late_rows"] == 1
    assert run_verify(sealed, s.NOW + timedelta(hours=14))["ok"] is True


def test_the_cost_table_in_docs_is_the_models() -> None:
    """docs/costs.md shows the bytes per sealed hour that ledger_cost computes."""
    from il_audit.operations.ledger_cost import cost_table

    text = (Path(__file__).parents[3] / "docs" / "costs.md").read_text()
    assert cost_table() in text


def runner_verify(path: Path) -> Any:
    from click.testing import CliRunner

    from il_audit.cli import cli

    return CliRunner().invoke(cli, ["verify", "--database", str(path)])


def test_a_dry_run_writes_nothing_and_orphan_pairs_are_ignored(tmp_path: Path) -> None:
    """--dry-run computes the entries and creates nothing (verify then exits 1: no seals);
    pairs no entry names (a run that died between its two writes) change neither verify
    nor the next seal."""
    path = tmp_path / "audit.duckdb"
    write(path, s.main_rows())
    store = DuckDBLedgerStore(path)
    try:
        dry = seal(store, now=s.NOW, dry_run=True)
        assert store.has_ledger() is False
    finally:
        store.close()
    never_sealed = runner_verify(path)
    assert never_sealed.exit_code == 1
    assert "has no seals to verify: run `il-audit ledger seal` first" in never_sealed.output
    empty = DuckDBLedgerStore(path)
    empty.ensure()
    empty.close()
    sql(path, "INSERT INTO audit_ledger_rows (period_start, table_name, row_key, row_hash, late, "
              f"sealed_in, seal_hash) VALUES ('{s.H_MAIN.isoformat()}', 'events', 'orphan', "
              f"'{'0' * 64}', false, '{s.H_MAIN.isoformat()}', '{'1' * 64}')")  # fmt: skip

    real = run_seal(path)

    assert real["last_seal_hash"] == dry.last_seal_hash
    assert real["rows"] == dry.as_dict()["rows"] == 4
    assert run_verify(path)["ok"] is True


def test_a_catch_up_run_reads_the_late_window_apart_and_keeps_the_chain(sealed: Path) -> None:
    """A run sealing three days at once (more hours than one read) still takes the late row
    into its first entry, and verify finds the whole chain intact."""
    write(sealed, s.late_rows())

    catch_up = run_seal(sealed, s.NOW + timedelta(days=3))

    assert catch_up["sealed_periods"] == 72
    first = [p for p in catch_up["periods"] if p["late_count"]]
    assert [(p["period_start"], p["table_name"]) for p in first] == [
        (catch_up["periods"][0]["period_start"], "events")
    ]
    report = run_verify(sealed, s.NOW + timedelta(days=3))
    sealed_hours = (s.NOW + timedelta(days=3, minutes=-30)).replace(minute=0) - s.H_EXPIRING
    assert (report["ok"], report["rows"]["late"]) == (True, 1)
    assert report["entries"] == 2 * (sealed_hours // timedelta(hours=1))


def test_seal_exports_recent_seals_once_and_refuses_a_rewritten_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ledger seal --export gs://…` writes one object per table and hour to Cloud Storage
    (a fake JSON-API server: no GCS stand-in runs here); the next run re-exports the same
    seals byte for byte (nothing new); an object rewritten by someone else is exit 1."""
    from click.testing import CliRunner

    from il_audit.cli import cli
    from il_audit.operations.ledger_export import EMULATOR_VARIABLE
    from tests.support.fake_gcs import FakeStorage

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    path = tmp_path / "audit.duckdb"
    at = hour + timedelta(minutes=5)
    write(path, s.rows_at(at, s.event("01934e1a-0000-7000-8000-00000000d001", at)))
    args = ["ledger", "seal", "--database", str(path), "--format", "json",
            "--export", "gs://seals/audit"]  # fmt: skip
    with FakeStorage("seals") as storage:
        monkeypatch.setenv(EMULATOR_VARIABLE, storage.url)
        first = CliRunner().invoke(cli, args)
        again = CliRunner().invoke(cli, args)
        names = sorted(name for _, name in storage.objects)
        forged_key = next(
            k for k in storage.objects if k[1] == f"audit/events/{hour:%Y-%m-%dT%H}:00:00Z.json"
        )
        storage.objects[forged_key] = b'{"forged": true}\n'
        forged = CliRunner().invoke(cli, args)

    assert first.exit_code == 0, first.output
    exported = json.loads(first.output)["exported"]
    assert sorted(item["uri"] for item in exported) == [f"gs://seals/{n}" for n in names]
    assert all(item["created"] for item in exported)
    assert {name.split("/")[1] for name in names} == {"events", "dead_letters"}
    assert again.exit_code == 0, again.output
    assert not any(item["created"] for item in json.loads(again.output)["exported"])
    assert forged.exit_code == 1
    assert "not overwritten" in forged.output
