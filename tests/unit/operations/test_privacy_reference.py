"""docs/privacy.md: its inventory is generated from the tags and its promises hold.

The generated blocks never drift (``il-audit schema privacy --check``); the hand-written
"where copies remain" states numbers that the code holds (the spool's bound, the topic's
retention), checked here against the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.config.settings import bundled_defaults
from il_audit.operations.privacy_inventory import personal_columns, relation_columns
from il_audit.operations.pubsub_resources import TOPIC_MESSAGE_RETENTION_SECONDS
from il_audit.publisher import _spool

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "privacy.md"
MIB = 1024 * 1024


def _privacy(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["schema", "privacy", *args])
    return result.exit_code, result.output


def test_the_docs_are_up_to_date() -> None:
    """`il-audit schema privacy --check` passes on docs/privacy.md (else: make generate)."""
    assert _privacy("--check", "--docs", str(DOCS)) == (0, "the privacy inventory is up to date\n")


def test_check_fails_on_a_stale_table_and_write_mends_it(tmp_path: Path) -> None:
    """An edited row makes --check exit 1; --write regenerates the file as committed."""
    docs = tmp_path / "privacy.md"
    docs.write_text(DOCS.read_text("utf-8").replace("| `actor_email` | contact", "| x | y", 1))
    code, out = _privacy("--check", "--docs", str(docs))
    assert code == 1
    assert f"out of date: {docs}" in out
    assert _privacy("--write", "--docs", str(docs)) == (0, f"wrote {docs}\n")
    assert docs.read_text("utf-8") == DOCS.read_text("utf-8")


def test_a_file_without_the_markers_is_bad_usage(tmp_path: Path) -> None:
    """--docs naming a file without the privacy markers exits 2 and names the marker."""
    docs = tmp_path / "privacy.md"
    docs.write_text("# nothing here\n")
    code, out = _privacy("--check", "--docs", str(docs))
    assert code == 2
    assert "privacy-inventory:begin" in out


def test_the_listing_has_every_personal_column_where_it_appears() -> None:
    """--format json lists each personal column of each table and view with that relation."""
    code, out = _privacy("--format", "json")
    assert code == 0
    listing = json.loads(out)["personal_columns"]
    where = {
        (row["column"], relation) for row in listing for relation in row["tables"] + row["views"]
    }
    expected = {
        (column, relation)
        for relation in relation_columns()
        for column in personal_columns(relation)
    }
    assert where == expected
    email = next(row for row in listing if row["column"] == "actor_email")
    assert (email["category"], email["on_erase"], email["tables"]) == (
        "contact",
        "null",
        ["events"],
    )


def test_each_personal_column_has_a_row_in_the_docs() -> None:
    """Every personal column name of every relation is a row of the generated table."""
    text = DOCS.read_text("utf-8")
    names = {column for relation in relation_columns() for column in personal_columns(relation)}
    assert len(names) > 40
    assert [name for name in sorted(names) if f"| `{name}` |" not in text] == []


def test_the_prose_says_what_erase_cannot_find_and_links_its_neighbours() -> None:
    """The plain statements the issue asks for, and links by their exact file names."""
    text = DOCS.read_text("utf-8")
    assert "**Personal data that is not keyed to the person is not found by erase.**" in text
    assert "**An app's own payload keys are removed on erasure unless they are tagged.**" in text
    links = set(re.findall(r"\]\(([^)#]+)\)", text))
    assert {"erasure.md", "retention.md"} <= links


def test_the_copies_section_states_the_code_s_numbers() -> None:
    """The spool's bound and segment size, and the events topic's retention, as stated."""
    text = DOCS.read_text("utf-8")
    assert f"({bundled_defaults()['spool_max_bytes'] // MIB} MiB by default" in text
    assert f"(up to {_spool.SEGMENT_MAX_BYTES // MIB} MiB)" in text
    assert f"retention ({TOPIC_MESSAGE_RETENTION_SECONDS // 86_400} days," in text
