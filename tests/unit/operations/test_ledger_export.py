"""The seal export (il_audit.operations.ledger_export) against a fake Cloud Storage.

No Cloud Storage stand-in runs here, so tests/support/fake_gcs.py speaks the two JSON-API
calls the exporter makes (media upload with ifGenerationMatch=0, media download), reached
through STORAGE_EMULATOR_HOST as google-cloud-storage would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from il_audit.operations.errors import LedgerExportError, SealConflictError
from il_audit.operations.ledger_export import (
    EMULATOR_VARIABLE,
    SealExporter,
    export_seal,
    parse_destination,
    seal_document,
)
from tests.support.fake_gcs import FakeStorage

BUCKET = "audit-seals"
DESTINATION = f"gs://{BUCKET}/seals/prod"
OBJECT = "seals/prod/events/2026-12-06T13:00:00Z.json"


def make_seal(**overrides: Any) -> dict[str, Any]:
    """A seal as the ledger stores it (one table, one hour of ingestion)."""
    seal: dict[str, Any] = {
        "table_name": "events",
        "period_start": datetime(2026, 12, 6, 13, tzinfo=UTC),
        "row_count": 1204,
        "digest": "a" * 64,
        "late_count": 0,
        "late_digest": None,
        "previous_seal_hash": "b" * 64,
        "seal_hash": "c" * 64,
        "sealed_at": datetime(2026, 12, 6, 14, 45, 1, 250000, tzinfo=UTC),
    }
    seal.update(overrides)
    return seal


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStorage]:
    with FakeStorage(BUCKET) as fake:
        monkeypatch.setenv(EMULATOR_VARIABLE, fake.url)
        yield fake


def test_a_seal_becomes_one_object_named_for_its_table_and_period(storage: FakeStorage) -> None:
    """PREFIX/TABLE/PERIOD_START.json, created with ifGenerationMatch=0, holding the seal."""
    result = export_seal(make_seal(), DESTINATION, timeout=5)
    assert (result.uri, result.created) == (f"gs://{BUCKET}/{OBJECT}", True)
    assert list(storage.objects) == [(BUCKET, OBJECT)]
    stored = storage.objects[(BUCKET, OBJECT)]
    assert result.size == len(stored)
    assert json.loads(stored) == {
        **make_seal(),
        "period_start": "2026-12-06T13:00:00.000000Z",
        "sealed_at": "2026-12-06T14:45:01.250000Z",
    }
    (upload,) = storage.requests
    assert upload.query == {"uploadType": "media", "name": OBJECT, "ifGenerationMatch": "0"}
    assert upload.headers["content-type"] == "application/json"
    assert "authorization" not in upload.headers  # the stand-in is reached anonymously


def test_exporting_the_same_seal_again_is_accepted_byte_for_byte(storage: FakeStorage) -> None:
    """A re-run after a crash finds the object (412), reads it, and finds its own bytes."""
    first = export_seal(make_seal(), DESTINATION, timeout=5)
    again = export_seal(make_seal(), DESTINATION, timeout=5)
    assert (first.created, again.created) == (True, False)
    assert [request.method for request in storage.requests] == ["POST", "POST", "GET"]
    assert storage.objects[(BUCKET, OBJECT)] == seal_document(make_seal())


def test_an_object_with_other_bytes_is_never_overwritten(storage: FakeStorage) -> None:
    """Someone wrote the period's object first: the export fails and leaves it as it was."""
    storage.objects[(BUCKET, OBJECT)] = b'{"row_count":0}\n'
    with pytest.raises(SealConflictError) as raised:
        export_seal(make_seal(), DESTINATION, timeout=5)
    assert raised.value.uri == f"gs://{BUCKET}/{OBJECT}"
    assert storage.objects[(BUCKET, OBJECT)] == b'{"row_count":0}\n'
    assert [request.method for request in storage.requests] == ["POST", "GET"]


def test_a_seal_read_back_from_a_warehouse_gives_the_same_bytes() -> None:
    """Naive (DuckDB) and aware timestamps in any zone, Decimal and float counts: one
    document, so that a re-export of a read-back seal matches the first export."""
    plus_one = timezone(timedelta(hours=1))
    variants = [
        make_seal(),
        make_seal(
            period_start=datetime(2026, 12, 6, 13),
            sealed_at=datetime(2026, 12, 6, 15, 45, 1, 250000, tzinfo=plus_one),
            row_count=Decimal("1204"),
        ),
        make_seal(sealed_at=datetime(2026, 12, 6, 14, 45, 1, 250000), row_count=1204.0),
        make_seal(row_count=Decimal("1204.000")),
    ]
    documents = {seal_document(seal) for seal in variants}
    assert len(documents) == 1
    assert documents.pop().endswith(b"}\n")
    assert seal_document(make_seal(row_count=1205)) != seal_document(make_seal())


def test_a_period_start_given_as_text_names_the_same_object() -> None:
    """An ISO string with an offset, or a naive one, is the same UTC hour as the datetime."""
    destination = parse_destination(DESTINATION)
    for start in ("2026-12-06T13:00:00+00:00", "2026-12-06T14:00:00+01:00", "2026-12-06 13:00"):
        assert destination.object_name(make_seal(period_start=start)) == OBJECT


def test_server_errors_are_retried_within_the_deadline(storage: FakeStorage) -> None:
    """503 twice, then the upload lands: one object, three attempts."""
    storage.fail("POST", 503, times=2)
    assert export_seal(make_seal(), DESTINATION, timeout=10).created
    assert [request.method for request in storage.requests] == ["POST"] * 3
    assert (BUCKET, OBJECT) in storage.objects


def test_an_export_gives_up_at_its_deadline_naming_the_last_problem(storage: FakeStorage) -> None:
    """Cloud Storage answering 503 forever: an error after about the timeout, not a hang."""
    storage.fail("POST", 503, times=1000)
    started = time.monotonic()
    with pytest.raises(LedgerExportError, match=r"gave up after .* HTTP 503 scripted failure"):
        export_seal(make_seal(), DESTINATION, timeout=0.6)
    assert time.monotonic() - started < 2.0
    assert storage.objects == {}


def test_permission_errors_name_the_role_the_account_lacks(storage: FakeStorage) -> None:
    """403 on the upload names objectCreator; 403 on the comparing read names objectViewer."""
    storage.fail("POST", 403)
    with pytest.raises(LedgerExportError, match=r"may not create .*roles/storage\.objectCreator"):
        export_seal(make_seal(), DESTINATION, timeout=5)
    storage.objects[(BUCKET, OBJECT)] = seal_document(make_seal())
    storage.fail("GET", 403)
    with pytest.raises(LedgerExportError, match=r"read \(to compare\).*objectViewer"):
        export_seal(make_seal(), DESTINATION, timeout=5)


def test_an_unknown_bucket_is_reported_as_such(storage: FakeStorage) -> None:
    """404 from the upload endpoint: the bucket is named, nothing retried."""
    with pytest.raises(LedgerExportError, match=r"gs://nowhere/.*no such bucket"):
        export_seal(make_seal(), "gs://nowhere/seals", timeout=5)
    assert len(storage.requests) == 1


def test_an_unreachable_endpoint_fails_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection refused on every try: LedgerExportError, bounded by the timeout."""
    with FakeStorage(BUCKET) as fake:
        url = fake.url
    monkeypatch.setenv(EMULATOR_VARIABLE, url)
    started = time.monotonic()
    with pytest.raises(LedgerExportError, match="ConnectionError"):
        export_seal(make_seal(), DESTINATION, timeout=0.5)
    assert time.monotonic() - started < 2.0


def test_one_exporter_writes_many_seals(storage: FakeStorage) -> None:
    """Each table and hour its own object; without a prefix, TABLE/PERIOD_START.json."""
    hours = [datetime(2026, 12, 6, hour, tzinfo=UTC) for hour in (10, 11)]
    with SealExporter(f"gs://{BUCKET}", timeout=5) as exporter:
        for table in ("events", "dead_letters"):
            for hour in hours:
                exporter.export(make_seal(table_name=table, period_start=hour))
    assert sorted(name for _, name in storage.objects) == [
        "dead_letters/2026-12-06T10:00:00Z.json",
        "dead_letters/2026-12-06T11:00:00Z.json",
        "events/2026-12-06T10:00:00Z.json",
        "events/2026-12-06T11:00:00Z.json",
    ]


@pytest.mark.parametrize(
    ("destination", "bucket", "prefix"),
    [
        ("gs://b-1", "b-1", ""),
        ("gs://b-1/", "b-1", ""),
        ("gs://b-1/seals/", "b-1", "seals"),
        ("gs://my.bucket_2/a/b", "my.bucket_2", "a/b"),
    ],
)
def test_destinations_are_a_bucket_and_an_optional_prefix(
    destination: str, bucket: str, prefix: str
) -> None:
    """gs://BUCKET[/PREFIX], slashes at the prefix's ends dropped."""
    parsed = parse_destination(destination)
    assert (parsed.bucket, parsed.prefix) == (bucket, prefix)


@pytest.mark.parametrize("destination", ["s3://b/p", "b/p", "gs://", "gs://UPPER/p"])
def test_a_destination_that_is_no_bucket_is_refused(destination: str) -> None:
    """Anything but gs:// and a valid bucket name is a configuration error."""
    with pytest.raises(LedgerExportError, match="export destination"):
        parse_destination(destination)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"table_name": "../events"}, "table_name"),
        ({"table_name": None}, "table_name"),
        ({"period_start": "yesterday"}, "period_start"),
        ({"row_count": float("nan")}, "JSON cannot carry"),
    ],
)
def test_a_malformed_seal_is_refused_before_any_request(
    storage: FakeStorage, overrides: dict[str, Any], problem: str
) -> None:
    """A seal that would make a strange object name or invalid JSON never reaches the bucket."""
    with pytest.raises(LedgerExportError, match=problem):
        export_seal(make_seal(**overrides), DESTINATION, timeout=5)
    assert storage.requests == []
