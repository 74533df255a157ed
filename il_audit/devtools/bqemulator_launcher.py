"""Run bqemulator's REST server as the local BigQuery stand-in: 127.0.0.1, in memory,
without ``INSTALL spatial``.

This script runs under the python of ``.venv-bqemulator/`` (``make setup-test`` creates it), never
the project's, and imports nothing from il_audit: bqemulator 1.4.0 pins ``sqlglot<30.12`` and
``grpcio-tools<1.81``, which clash with the project's dependencies.
``il_audit/devtools/bigquery_standin.py`` starts and stops it (tests, ``il-audit dev up
--bigquery``)::

    .venv-bqemulator/bin/python il_audit/devtools/bqemulator_launcher.py --port 9050

It prints ``BQEMULATOR_REST_URL=http://127.0.0.1:PORT`` and ``BQEMULATOR_GRPC_ADDR=127.0.0.1:PORT``
(the Storage Write API) once the server listens (``--port 0`` / ``--grpc-port 0`` pick free
ports) and runs until SIGTERM/SIGINT, or until its parent process goes away
(``--exit-with-parent``), so that a killed test run does not leave it behind.

Workarounds, here in the stand-in's launcher only (the pipeline's code knows nothing of them):

- bqemulator's ``DuckDBEngine._load_spatial`` runs ``INSTALL spatial`` at every start and
  refuses to start when it fails; the install downloads the extension from DuckDB's
  extension repository, which these machines cannot reach. The launcher replaces that
  method before the server is built: it only ``LOAD``s spatial when a copy is already
  installed locally, and otherwise goes on without it. GEOGRAPHY columns and ``ST_*``
  functions are then unavailable; il-audit's tables and SQL use neither.
- ``enable_format_extensions`` is turned off: it would try ``INSTALL avro`` over the
  network at every start (best effort, but a wasted wait). Avro loads are not used here.
- The gRPC API (Storage Read/Write) gets the port ``--grpc-port`` names (the parent picks a
  free one) instead of the fixed 9060, so several stand-ins (parallel test runs) do not
  collide. The REST API is what ``google-cloud-bigquery`` uses for everything but event and
  dead-letter writes; those go through the Storage Write API (``AppendRows`` on the
  ``_default`` stream) unless ``IL_AUDIT_BQ_WRITE_METHOD=insert_all``.
- bqemulator's write servicer builds the target table's Arrow schema from the catalog with
  only ``name``/``type``/``mode`` of each column (``_table_arrow_schema``): a RECORD column
  loses its sub-fields and becomes an empty struct, so every ``AppendRows`` into a table with
  one (``events.usage``, a REPEATED RECORD) fails. The launcher replaces that function with
  one that passes the nested ``fields`` on, recursively, to the same
  ``_build_arrow_schema`` the REST path uses. NUMERIC needs no patch: il-audit sends NUMERIC
  values as decimal strings, which the stand-in reads (as bytes, the encoding real BigQuery
  also accepts, it kills the connection).
- The catalog snapshot bqemulator hands to sqlglot's ``qualify`` (``build_catalog_schema``)
  leaves out RECORD columns (and types REPEATED columns as scalars). Whenever one of its
  translation rules fires (``COUNTIF``, ``PARSE_NUMERIC``, ``REGEXP_EXTRACT``...), the query
  is regenerated from the qualified tree, where ``SELECT *`` over ``events`` has been
  expanded without ``usage``; a view reading ``e.usage`` through ``events_deduped`` then
  fails with 'Values list "e" does not have a column named "usage"'. The launcher
  replaces the snapshot with one that keeps every column, RECORD and REPEATED included.

Not here but in the ``Makefile``: the venv pins DuckDB to 1.x. Under DuckDB 2.x a
``fetchone()`` in bqemulator's ``tabledata.list`` leaves a result open on its single
connection, and every ``insertAll`` after it fails with HTTP 500.

Data lives in memory (``PersistenceMode.EPHEMERAL``) and is gone when the process ends.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from typing import Any

IMPORT_ERROR_EXIT_CODE = 3
"""Exit status when bqemulator or numpy cannot be imported (the helper gives the install hint)."""

_PARENT_POLL_SECONDS = 1.0


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="REST port on 127.0.0.1 (0: free)")
    parser.add_argument(
        "--grpc-port", type=int, default=0, help="gRPC (Storage API) port on 127.0.0.1 (0: free)"
    )
    parser.add_argument("--project", default="il-audit-test", help="default project id")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="bqemulator log level",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits",
    )
    return parser.parse_args(argv)


def _skip_spatial_install(log_level: str) -> None:
    """Patch bqemulator's engine so that start-up never runs ``INSTALL spatial``."""
    from bqemulator.config import LogFormat, LogLevel
    from bqemulator.observability.logging_ import configure_logging, get_logger

    # Before the engine import, whose SQL translator logs at debug level on import.
    configure_logging(level=LogLevel(log_level), fmt=LogFormat.JSON)
    from bqemulator.storage.engine import DuckDBEngine

    log = get_logger("il_audit.tests.bqemulator_launcher")

    def _load_spatial_if_installed(self: Any) -> None:
        # LOAD reads the extension from the local extension directory only (no network).
        try:
            self.connection.execute("LOAD spatial")
        except Exception as exc:  # noqa: BLE001 - any failure just means "not installed"
            log.warning("duckdb.spatial_skipped", reason=str(exc).splitlines()[0])

    DuckDBEngine._load_spatial = _load_spatial_if_installed  # type: ignore[method-assign]


def _keep_record_columns_in_catalog_schema() -> None:
    """Patch the catalog snapshot used by the SQL translator to keep RECORD/REPEATED columns."""
    import sqlglot
    from bqemulator.domain.errors import NotFoundError
    from bqemulator.sql import catalog_schema, inner_query
    from sqlglot import exp

    def column_type(field: Any) -> str | None:
        if field.type.upper() in ("RECORD", "STRUCT"):
            parts = []
            for sub in field.fields:
                sub_type = column_type(sub)
                if sub_type is None:
                    return None
                parts.append(f'"{sub.name}" {sub_type}')
            base: str | None = f"STRUCT({', '.join(parts)})"
        else:
            base = catalog_schema._safe_bq_to_duckdb(field.type)
        if base is None:
            return None
        return f"{base}[]" if field.mode == "REPEATED" else base

    def build_catalog_schema(
        bq_sql: str, *, project_id: str, catalog: Any
    ) -> dict[str, dict[str, str]]:
        try:
            tree = sqlglot.parse_one(bq_sql, read="bigquery")
        except sqlglot.errors.ParseError:
            return {}
        schema: dict[str, dict[str, str]] = {}
        for table in tree.find_all(exp.Table):
            resolved = catalog_schema._resolve_table_ref(table, project_id=project_id)
            if resolved is None:
                continue
            try:
                meta = catalog.get_table(*resolved)
            except NotFoundError:
                continue
            if meta is None:
                continue
            columns = {}
            for field in meta.schema_.fields:
                duckdb_type = column_type(field)
                if duckdb_type is not None:
                    columns[field.name] = duckdb_type
            if columns:
                schema[resolved[2]] = columns
        return schema

    inner_query.build_catalog_schema = build_catalog_schema


def _keep_record_fields_in_write_schema() -> None:
    """Patch the write servicer's target Arrow schema to keep RECORD sub-fields."""
    from bqemulator.api.routes.tabledata import _build_arrow_schema
    from bqemulator.grpc_api import write_servicer

    def field_dict(field: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"name": field.name, "type": field.type, "mode": field.mode}
        if field.fields:
            data["fields"] = [field_dict(sub) for sub in field.fields]
        return data

    def table_arrow_schema(table_meta: Any) -> Any:
        return _build_arrow_schema([field_dict(field) for field in table_meta.schema_.fields])

    write_servicer._table_arrow_schema = table_arrow_schema


async def _serve(args: argparse.Namespace) -> None:
    from bqemulator.config import LogLevel, PersistenceMode, Settings
    from bqemulator.server import EmulatorServer

    settings = Settings(
        persistence_mode=PersistenceMode.EPHEMERAL,
        rest_host="127.0.0.1",
        rest_port=args.port,
        grpc_host="127.0.0.1",
        grpc_port=args.grpc_port,
        default_project_id=args.project,
        enable_format_extensions=False,
        log_level=LogLevel(args.log_level),
    )
    server = EmulatorServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        print(f"BQEMULATOR_REST_URL={server.rest_url}", flush=True)
        print(f"BQEMULATOR_GRPC_ADDR={server.grpc_endpoint}", flush=True)
        waiters = [asyncio.create_task(stop.wait())]
        if args.exit_with_parent:
            waiters.append(asyncio.create_task(_parent_gone(os.getppid())))
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
    finally:
        await server.stop()


async def _parent_gone(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(_PARENT_POLL_SECONDS)


def main(argv: list[str] | None = None) -> None:
    """Start the stand-in and serve until told to stop."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        # bqemulator does not declare numpy, but DuckDB needs it for the UDFs registered at start.
        importlib.import_module("numpy")
        _skip_spatial_install(args.log_level)
        _keep_record_columns_in_catalog_schema()
        _keep_record_fields_in_write_schema()
    except ImportError as exc:
        print(f"error: {sys.executable} lacks bqemulator or numpy: {exc}", file=sys.stderr)
        sys.exit(IMPORT_ERROR_EXIT_CODE)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
