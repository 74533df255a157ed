"""Warehouses holding the view tests' workload: an embedded DuckDB file and the BigQuery stand-in.

Each is loaded once per module that uses it (the stand-in snapshots tables on every insert,
so the rows go in with one request per table). ``warehouse`` runs a test on both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.scenario import Workload
from tests.support.view_workload import TABLE_RATES, build_workload
from tests.support.warehouses import BigQueryWarehouse, DuckDBWarehouse


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The two-day workload, emitted with no il-audit variable set."""
    return build_workload()


@pytest.fixture(scope="module")
def duckdb_warehouse(
    workload: Workload, tmp_path_factory: pytest.TempPathFactory
) -> DuckDBWarehouse:
    """The workload in an embedded DuckDB file."""
    path = tmp_path_factory.mktemp("compat") / "il_audit.duckdb"
    return DuckDBWarehouse(path, workload, TABLE_RATES)


@pytest.fixture(scope="module")
def bigquery_warehouse(standin: BigQueryStandIn, workload: Workload) -> Iterator[BigQueryWarehouse]:
    """The workload in a dataset of the BigQuery stand-in, dropped afterwards."""
    created = BigQueryWarehouse(standin.url, standin.project, workload, TABLE_RATES)
    try:
        yield created
    finally:
        created.close()


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request: pytest.FixtureRequest) -> DuckDBWarehouse | BigQueryWarehouse:
    """Each warehouse in turn: the test runs once on DuckDB and once on the stand-in."""
    engine: DuckDBWarehouse | BigQueryWarehouse = request.getfixturevalue(
        f"{request.param}_warehouse"
    )
    return engine
