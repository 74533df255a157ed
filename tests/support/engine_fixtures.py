"""The three fixtures of a view test that runs on both engines, made once.

A module that defines a module-scoped ``workload`` fixture (a :class:`Workload`) and
runs under ``tests/integration`` (whose conftest provides ``standin``) writes::

    duckdb_engine, bigquery_engine, engine = workload_engines("visits")

and its tests take ``engine`` (each engine in turn) or one of the two by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.scenario import Workload
from tests.support.warehouses import (
    BigQueryEngine,
    DuckDBEngine,
    Engine,
    load_bigquery,
    load_duckdb,
)


def workload_engines(directory: str) -> tuple[Callable[..., Any], ...]:
    """``duckdb_engine``, ``bigquery_engine`` and ``engine`` fixtures over the module's
    ``workload``: an embedded file (in a temporary ``directory``) loaded through the
    embedded mode's pipeline and sink, and a stand-in dataset loaded through the
    function's pipeline (Storage Write API)."""

    @pytest.fixture(scope="module", name="duckdb_engine")
    def duckdb_engine(workload: Workload, tmp_path_factory: pytest.TempPathFactory) -> DuckDBEngine:
        path = tmp_path_factory.mktemp(directory) / "events.duckdb"
        return DuckDBEngine(load_duckdb(path, workload))

    @pytest.fixture(scope="module", name="bigquery_engine")
    def bigquery_engine(standin: BigQueryStandIn, workload: Workload) -> Iterator[BigQueryEngine]:
        dataset = load_bigquery(standin.url, standin.project, workload, standin.grpc_address)
        try:
            yield BigQueryEngine(dataset)
        finally:
            dataset.close()

    @pytest.fixture(params=["duckdb", "bigquery"], name="engine")
    def engine(request: pytest.FixtureRequest) -> Engine:
        found: Engine = request.getfixturevalue(f"{request.param}_engine")
        return found

    return duckdb_engine, bigquery_engine, engine
