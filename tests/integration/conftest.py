"""Warehouses holding the view tests' workload: an embedded DuckDB file and the BigQuery stand-in.

Each is loaded once per module that uses it (the stand-in snapshots tables on every insert,
so the rows go in with one request per table). ``warehouse`` runs a test on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from il_audit.config.settings import reset_audit_settings_cache
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.workload import BigQueryWarehouse, DuckDBWarehouse, Workload, build_workload


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The two-day workload, emitted with no il-audit variable set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("IL_"):
                patch.delenv(name)
        reset_audit_settings_cache()
        built = build_workload()
    reset_audit_settings_cache()
    return built


@pytest.fixture(scope="module")
def duckdb_warehouse(
    workload: Workload, tmp_path_factory: pytest.TempPathFactory
) -> DuckDBWarehouse:
    """The workload in an embedded DuckDB file."""
    return DuckDBWarehouse(tmp_path_factory.mktemp("compat") / "il_audit.duckdb", workload)


@pytest.fixture(scope="module")
def bigquery_warehouse(standin: BigQueryStandIn, workload: Workload) -> Iterator[BigQueryWarehouse]:
    """The workload in a dataset of the BigQuery stand-in, dropped afterwards."""
    created = BigQueryWarehouse(standin.url, standin.project, workload)
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
