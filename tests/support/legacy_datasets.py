"""Datasets an older il-audit wrote, on the BigQuery stand-in, for the migration tests.

:class:`Dataset` names one; :func:`filled_row` makes a plausible row of any
table from its ``(name, type)`` columns; :func:`stand_in_client` is a client
of the stand-in.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests.support.bigquery_standin import BigQueryStandIn

_names = itertools.count(1)


class Dataset(NamedTuple):
    """A client and the older dataset it works on."""

    client: bigquery.Client
    name: str

    def ref(self, table: str) -> str:
        return f"{self.client.project}.{self.name}.{table}"

    def query(self, sql: str) -> list[dict[str, Any]]:
        qualified = sql.replace("{ds}", f"`{self.client.project}.{self.name}`")
        return [dict(row.items()) for row in self.client.query(qualified).result(timeout=60)]

    def kind(self, table: str) -> str:
        return str(self.client.get_table(self.ref(table)).table_type)

    def drop(self) -> None:
        self.client.delete_dataset(
            f"{self.client.project}.{self.name}", delete_contents=True, not_found_ok=True
        )


def new_dataset(client: bigquery.Client, prefix: str = "legacy") -> Dataset:
    """An empty dataset with a name no other test uses."""
    dataset = Dataset(client, f"{prefix}_{next(_names)}_{datetime.now(UTC):%H%M%S%f}")
    client.create_dataset(f"{client.project}.{dataset.name}")
    return dataset


def filled_row(
    columns: Sequence[tuple[str, str]], logged_at: datetime, index: int, **values: Any
) -> dict[str, Any]:
    """A plausible row: every column filled by its type (``logged_at`` for times), then
    ``values``."""
    filler = {
        "STRING": lambda name: f"{name}-{index}",
        "INT64": lambda _name: index,
        "FLOAT64": lambda _name: 0.25 * index,
        "BOOL": lambda _name: index % 2 == 0,
        "TIMESTAMP": lambda _name: logged_at.isoformat(),
        "DATE": lambda _name: logged_at.date().isoformat(),
    }
    row = {name: filler[kind](name) for name, kind in columns}
    row.update(values)
    return row


def stand_in_client(standin: BigQueryStandIn) -> bigquery.Client:
    """A google-cloud-bigquery client of the stand-in (anonymous)."""
    return bigquery.Client(
        project=standin.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=standin.url),
    )
