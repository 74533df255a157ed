"""The embedded database a command reads: when it is missing, name the one that exists."""

from __future__ import annotations

from pathlib import Path

from il_audit.cli.errors import BadSettingsError

DEMO_DATABASE = "il_audit_demo.duckdb"


def require_database(database: Path, fix: str) -> None:
    """Raise a configuration error (exit 2) when ``database`` does not exist.

    When another ``.duckdb`` file sits in the same directory (``il-audit demo`` writes
    ``il_audit_demo.duckdb``), the message names it and the ``--database`` that reads it;
    otherwise it says ``fix``.
    """
    if database.exists():
        return
    directory = database.parent
    found = sorted(
        (p for p in directory.glob("*.duckdb") if p.is_file() and p.name != database.name),
        key=lambda p: (p.name != DEMO_DATABASE, p.name),
    )
    if not found:
        raise BadSettingsError(f"no embedded database at {database}: {fix}")
    here = directory.resolve() == Path.cwd().resolve()
    where = "here" if here else f"in {directory}"
    shown = found[0].name if here else str(found[0])
    raise BadSettingsError(
        f"no {database.name} {where}; found {found[0].name}: add `--database {shown}`"
    )
