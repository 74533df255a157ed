"""The built wheel and sdist carry the package data, and the wheel works on its own.

Builds without isolation (the dev venv provides setuptools) so the test never
reaches the network; the fresh venv borrows third-party dependencies from the
dev venv through a .pth file, but il_audit itself comes only from the wheel.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_FILES = (
    "il_audit/config/defaults.json",
    "il_audit/static/audit_beacon.js",
    "il_audit/static/visit_session.js",
    "il_audit/static/login_audit.js",
    "il_audit/py.typed",
    "il_audit/sql/events_deduped.sql",
    "il_audit/sql/compat/auth_events.sql",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def test_wheel_and_sdist_carry_the_data_files(dist: Path) -> None:
    """defaults.json, static/, the views' SQL and py.typed are in both artefacts."""
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in DATA_FILES:
        assert name in wheel_names
        assert name in sdist_names
    assert not any(name.startswith("tests/") for name in wheel_names)


@pytest.mark.subprocess
def test_seed_pins_resolve_to_this_release(dist: Path) -> None:
    """A host pinned to `il-audit>=1.0` or `>=0.1.3` resolves to this wheel (2.0.0), and a
    pin below 2 does not: pip chooses from the built wheel alone (--no-index)."""
    import json

    from il_audit import __version__

    def resolve(pin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--no-deps", "--no-index", "--find-links", str(dist), "--quiet", "--report", "-",
             pin],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    assert __version__ == "2.0.0"
    for pin in ("il-audit>=1.0", "il-audit>=0.1.3", "il-audit"):
        result = resolve(pin)
        assert result.returncode == 0, result.stderr
        [install] = json.loads(result.stdout)["install"]
        assert install["metadata"]["name"] == "il-audit"
        assert install["metadata"]["version"] == __version__, pin
    assert resolve("il-audit<2").returncode != 0


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh venv with the wheel installed (third-party packages borrowed via a .pth) by
    our pip, pointed at the venv's interpreter (no pip of its own to bootstrap first)."""
    [wheel] = dist.glob("*.whl")
    target = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return target, site


def test_wheel_installs_and_imports_in_a_fresh_venv(
    installed: tuple[Path, str], tmp_path: Path
) -> None:
    """The public API imports from the installed wheel and bundled defaults load."""
    target, site = installed
    python = target / "bin" / "python"
    check = (
        "import il_audit, json\n"
        "from il_audit import emit, AuditContext, flush_audit_writer, taxonomy\n"
        "from il_audit.publisher import emit as emit2\n"
        "from importlib import resources\n"
        "assert emit is emit2\n"
        f"assert il_audit.__file__.startswith({site!r})\n"
        "print(json.dumps({'dataset': il_audit.get_audit_settings().dataset,\n"
        "  'beacon': resources.files('il_audit').joinpath('static/audit_beacon.js').is_file()}))\n"
    )
    result = subprocess.run(
        [str(python), "-c", check],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"dataset": "intelligence_layer_logs", "beacon": true}'
    cli = subprocess.run(
        [str(target / "bin" / "il-audit"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "il-audit" in cli.stdout


def test_demo_from_the_wheel_reports_what_independent_queries_find(
    installed: tuple[Path, str], tmp_path: Path
) -> None:
    """`il-audit demo` (the README's first command) fills a DuckDB file whose report matches
    the workload it generated and SQL run on the tables directly, and writes the HTML report
    beside it with every section filled."""
    import json
    from collections import Counter
    from decimal import Decimal

    import duckdb

    from il_audit.devtools.demo_workload import generate

    target, _ = installed
    database = tmp_path / "demo.duckdb"
    events = 3000
    result = subprocess.run(
        [str(target / "bin" / "il-audit"), "demo", "--events", str(events), "--json",
         "--database", str(database)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    workload = list(generate(events, seed=7))
    malformed = sum(event.malformed for event in workload)
    expected_types = Counter(event.event_type for event in workload if not event.malformed)
    assert (report["events"], report["accepted"], report["dead_lettered"]) == (
        events, events - malformed, malformed
    )  # fmt: skip
    with duckdb.connect(str(database), read_only=True) as connection:
        by_type = dict(
            connection.execute("SELECT event_type, COUNT(*) FROM events GROUP BY 1").fetchall()
        )
        total_cost = connection.execute("SELECT SUM(cost_usd) FROM events").fetchone()
        item_cost = connection.execute(
            "SELECT SUM(u.cost_usd) FROM (SELECT UNNEST(usage) AS u FROM events)"
        ).fetchone()
        reasons = dict(connection.execute(
            "SELECT error_class, COUNT(*) FROM dead_letters GROUP BY 1").fetchall())  # fmt: skip
        users = dict(connection.execute(
            "SELECT app, COUNT(*) FROM events GROUP BY 1").fetchall())  # fmt: skip
    assert by_type == dict(expected_types)
    sections = report["report"]
    top_types = {row["event_type"]: row["events"] for row in sections["events_by_type"]}
    assert all(by_type[name] == count for name, count in top_types.items())
    assert len(top_types) == 12
    report_cost = sum(
        Decimal(row["cost_usd"]) for row in sections["cost_by_app_and_pricing_source"]
    )
    assert report_cost == total_cost[0] == item_cost[0]
    model_cost = sum(
        Decimal(row["cost_usd"]) for row in sections["cost_by_model"] if row["cost_usd"]
    )
    assert model_cost == report_cost
    assert {
        row["error_class"]: row["dead_letters"] for row in sections["dead_letters_by_reason"]
    } == reasons
    assert {row["app"]: row["events"] for row in sections["active_users_by_app"]} == users
    html_report = Path(report["html_report"])
    assert html_report == database.with_suffix(".html").resolve()
    page = html_report.read_text("utf-8")
    for section in ("events", "users", "cost", "auth", "dead_letters", "chat_latency", "pipeline"):
        assert f'data-section="{section}" data-state="ok"' in page, section
    assert f'data-figure="events_total" data-value="{events - malformed}"' in page
