"""``il-audit erase --bigquery``: the happy path on the stand-in, the streaming buffer on a fake.

The stand-in runs the real statements (``MERGE`` from an ``ARRAY<STRUCT>`` parameter, the
``UPDATE ... CASE`` of a legacy table) but has no streaming buffer; the refusal BigQuery
gives for rows still in it comes from :class:`tests.support.fake_bigquery.StreamingBufferProxy`,
which forwards everything else to the stand-in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.cli import cli
from il_audit.publisher.privacy import keyed_hash
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.pipeline import Pipeline
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.factories import envelope_line
from tests.support.fake_bigquery import StreamingBufferProxy

KEY = "erase-bq-key"
UID = "user-erase-bq"
EMAIL = "erase-bq@example.com"


@dataclass
class Dataset:
    client: bigquery.Client
    name: str
    url: str
    person_ids: list[str]


class _Catalogs:
    def current(self) -> Any:
        return seed_catalog()


def _client(url: str, project: str) -> bigquery.Client:
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=url),
    )


@pytest.fixture
def dataset(standin: BigQueryStandIn) -> Iterator[Dataset]:
    """A dataset with the person's events (one a chat turn), an actor-less text of that
    turn, someone else's event, the person's dead letter and a legacy table (insertAll)."""
    client = _client(standin.url, standin.project)
    name = f"erase_{uuid.uuid4().hex[:10]}"
    sink = BigQuerySink(client, name, retry_deadline=5.0, timeout=10.0)
    pipeline = Pipeline(sink, _Catalogs())
    person = {"actor_uid": UID, "actor_email": EMAIL}
    lines = [
        envelope_line(**person, payload={"question": "secret?", "turn_index": 0},
                      event_type="chat.turn.succeeded", correlation_id="turn-1"),
        envelope_line(**person, payload={"page_path": "/secret-page"}),
        envelope_line(actor_uid=None, event_type="chat.model_call.text", correlation_id="turn-1",
                      payload={"prompt": "secret prompt", "call_id": "c-1"}),
        envelope_line(actor_uid="someone-else", actor_email="else@example.com"),
        envelope_line(**person, event_type="no.such.type"),  # dead-lettered
    ]  # fmt: skip
    pipeline.handle(b"\n".join(lines), {}, MessageMeta(message_id="m-1"))
    ids = [json.loads(line)["event_id"] for line in lines[:3]]
    legacy = bigquery.Table(
        f"{standin.project}.{name}.legacy_auth_events",
        schema=[
            bigquery.SchemaField("actor_uid", "STRING"),
            bigquery.SchemaField("actor_email", "STRING"),
            bigquery.SchemaField("user_agent", "STRING"),
        ],
    )
    client.create_table(legacy)
    assert not client.insert_rows_json(
        legacy,
        [
            {"actor_uid": UID, "actor_email": EMAIL, "user_agent": "Firefox"},
            {"actor_uid": "someone-else", "actor_email": "x@example.com", "user_agent": "Edge"},
        ],
    )
    try:
        yield Dataset(client, name, standin.url, ids)
    finally:
        client.delete_dataset(name, delete_contents=True, not_found_ok=True)
        client.close()  # type: ignore[no-untyped-call]


def _erase(url: str, project: str, dataset: str, *args: str) -> Result:
    env = {
        "IL_AUDIT_HASH_KEY": KEY,
        "IL_BQ_API_ENDPOINT": url,
        "IL_BQ_LOGS_PROJECT": project,
        "IL_BQ_AUDIT_DATASET": dataset,
        "IL_AUDIT_BQ_WRITE_METHOD": "insert_all",
        "IL_AUDIT_OPERATOR": "bq-operator",
    }
    return CliRunner().invoke(
        cli, ["erase", "--bigquery", "--actor-uid", UID, "--format", "json", *args], env=env
    )


def _rows(data: Dataset, sql: str) -> list[dict[str, Any]]:
    qualified = sql.replace("{ds}", f"`{data.client.project}.{data.name}`")
    return [dict(row.items()) for row in data.client.query(qualified).result(timeout=30)]


def test_erase_on_bigquery_changes_every_table_in_one_statement_each(dataset: Dataset) -> None:
    """The real run erases events (the turn's actor-less text too), dead letters and the
    legacy table, keeps ids, and records the erasure event through the sink."""
    dry = _erase(dataset.url, dataset.client.project, dataset.name, "--dry-run")
    assert dry.exit_code == 0, dry.output
    tables = json.loads(dry.output)["tables"]
    assert (tables["events"]["rows"], tables["dead_letters"]["rows"]) == (3, 1)
    assert tables["legacy_auth_events"]["rows"] == 1

    result = _erase(dataset.url, dataset.client.project, dataset.name, "--yes")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {name: t["changed"] for name, t in report["tables"].items()} == {
        "dead_letters": 1, "events": 3, "legacy_auth_events": 1,
    }  # fmt: skip
    events = _rows(dataset, "SELECT event_id, actor_uid, actor_email, "
                   "TO_JSON_STRING(payload) AS payload FROM {ds}.events")  # fmt: skip
    by_id = {row["event_id"]: row for row in events}
    for event_id in dataset.person_ids:
        assert by_id[event_id]["actor_email"] is None
    assert by_id[dataset.person_ids[0]]["actor_uid"] == report["pseudonym"]
    assert "secret" not in json.dumps(events)
    assert {row["actor_uid"] for row in events} >= {"someone-else"}
    dead = _rows(dataset, "SELECT raw_line FROM {ds}.dead_letters")
    assert [row["raw_line"] for row in dead] == [None]
    legacy = _rows(dataset, "SELECT actor_uid, actor_email FROM {ds}.legacy_auth_events")
    assert sorted(legacy, key=str) == sorted(
        [
            {"actor_uid": report["pseudonym"], "actor_email": None},
            {"actor_uid": "someone-else", "actor_email": "x@example.com"},
        ],
        key=str,
    )
    (record,) = _rows(
        dataset,
        "SELECT event_id, TO_JSON_STRING(payload) AS payload FROM {ds}.events "
        "WHERE event_type = 'audit.erasure.completed'",
    )
    payload = json.loads(record["payload"])
    assert record["event_id"] == report["erasure_id"]
    assert payload["subject_hash"] == keyed_hash(f"uid:{UID}", KEY)
    assert UID not in record["payload"]
    assert EMAIL not in record["payload"]


def test_rows_in_the_streaming_buffer_are_reported_and_a_rerun_finishes(
    dataset: Dataset,
) -> None:
    """BigQuery refuses DML on rows in the streaming buffer: the run reports them, exits 1
    saying when to re-run; the re-run changes what was left and names the same subject."""
    with StreamingBufferProxy(dataset.url, tables={"events"}) as proxy:
        first = _erase(proxy.url, dataset.client.project, dataset.name, "--yes")
        assert first.exit_code == 1, first.output
        assert "re-run after ~90 minutes" in first.output
        report = json.loads(first.output[: first.output.rindex("}") + 1])
        assert report["tables"]["events"]["pending"] == 3
        assert report["tables"]["dead_letters"]["changed"] == 1
        assert proxy.refused >= 1
        proxy.tables.clear()  # the buffer has been flushed
        second = _erase(proxy.url, dataset.client.project, dataset.name, "--yes")
    assert second.exit_code == 0, second.output
    again = json.loads(second.output)
    assert again["tables"]["events"]["changed"] == 3
    assert again["tables"]["dead_letters"]["changed"] == 0
    assert again["subject_hash"] == report["subject_hash"]
    assert again["pseudonym"] == report["pseudonym"]
    records = _rows(
        dataset,
        "SELECT status FROM {ds}.events WHERE event_type = 'audit.erasure.completed' "
        "ORDER BY event_id",
    )
    assert [row["status"] for row in records] == ["partial", "succeeded"]
