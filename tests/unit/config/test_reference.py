"""The settings reference is generated: docs/settings.md and the beacon doc's table never drift."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.config import reference
from il_audit.publisher.fixed_limits import FIXED_LIMITS

ROOT = Path(__file__).resolve().parents[3]
TABLES = ROOT / "docs" / "ui-beacon-convention.md"
DOCS = ROOT / "docs" / "settings.md"
ONCE_MISSING = (
    "IL_AUDIT_MAX_DELIVERY_ATTEMPTS",
    "IL_AUDIT_MIN_BACKOFF_SECONDS",
    "IL_AUDIT_MAX_BACKOFF_SECONDS",
    "IL_AUDIT_ACK_DEADLINE_SECONDS",
    "IL_AUDIT_MAX_REPLAYS",
    "IL_BQ_AUDIT_DATASET_LOCATION",
)


def _settings_command(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["schema", "settings", *args])
    return result.exit_code, result.output


def test_the_docs_and_the_beacon_table_are_up_to_date() -> None:
    """`il-audit schema settings --check` passes on the repository's files."""
    code, out = _settings_command("--check", "--tables", str(TABLES), "--docs", str(DOCS))
    assert (code, out) == (0, "the settings reference is up to date\n")


def test_check_fails_on_a_stale_file_and_write_mends_it(tmp_path: Path) -> None:
    """A hand-edited table makes --check exit 1; --write regenerates it."""
    tables, docs = tmp_path / "ui-beacon-convention.md", tmp_path / "settings.md"
    tables.write_text(TABLES.read_text("utf-8").replace("| `10` |", "| `11` |", 1))
    paths = ("--tables", str(tables), "--docs", str(docs))
    code, out = _settings_command("--check", *paths)
    assert code == 1
    assert f"out of date: {tables}, {docs}" in out
    assert _settings_command("--write", *paths) == (0, f"wrote {tables}\nwrote {docs}\n")
    assert tables.read_text("utf-8") == TABLES.read_text("utf-8")
    assert docs.read_text("utf-8") == DOCS.read_text("utf-8")


def test_a_page_without_markers_is_bad_usage(tmp_path: Path) -> None:
    """Pointing --tables at a file without the settings markers exits 2, as bad usage."""
    page = tmp_path / "README.md"
    page.write_text("# nothing here\n")
    code, out = _settings_command("--check", "--tables", str(page), "--docs", str(DOCS))
    assert code == 2
    assert "<!-- settings-beacon:begin -->" in out
    assert _settings_command("--write", "--check")[0] == 2


def test_the_listing_names_every_setting_and_fixed_limit() -> None:
    """--format json lists each setting with its variables and every fixed limit's value."""
    code, out = _settings_command("--format", "json")
    assert code == 0
    listing = json.loads(out)
    variables = {name for row in listing["settings"] for name in row["variables"]}
    assert set(ONCE_MISSING) <= variables
    limits = {row["name"]: row["value"] for row in listing["fixed_limits"]}
    assert limits == {"STALL_SECONDS": 3.0, "PROJECT_LOOKUP_TIMEOUT_SECONDS": 2.0} | {
        "MAX_INFLIGHT_BYTES": 8 * 1024 * 1024
    }
    code, table = _settings_command()
    assert code == 0
    assert "pubsub.subscription_ack_deadline_seconds" in table


def test_every_setting_says_what_it_is_and_who_reads_it() -> None:
    """No row of the reference lacks a description, accepted values or a reader."""
    for row in reference.settings():
        assert all((row.description, row.accepts, row.read_by, row.variables)), row.name


def test_the_reference_names_the_variables_the_readme_once_missed() -> None:
    """The six variables the README's hand-written table missed are in the generated
    reference, and the beacon's table holds exactly the beacon's variables and the hash key."""
    text = DOCS.read_text("utf-8")
    for variable in ONCE_MISSING:
        assert f"`{variable}`" in text, variable
    page = TABLES.read_text("utf-8")
    block = page[
        page.index("<!-- settings-beacon:begin -->") : page.index("<!-- settings-beacon:end -->")
    ]
    listed = set(re.findall(r"^\| `([A-Z_]+)`", block, re.M))
    assert listed == {
        row.variables[0] for row in reference.settings() if row.path.startswith("beacon.")
    } | {"IL_AUDIT_HASH_KEY"}


def test_fixed_limits_are_the_values_their_modules_hold() -> None:
    """Each fixed limit names the module constant it shows, and shows its value."""
    for constant in FIXED_LIMITS:
        module = importlib.import_module(constant.module)
        assert getattr(module, constant.name) == constant.value, constant.name
    assert "| `STALL_SECONDS` | 3 s |" in DOCS.read_text("utf-8")
