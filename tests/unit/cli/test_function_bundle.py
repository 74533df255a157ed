"""`il-audit function bundle`: what the directory holds, rebuilds, and refusals."""

from __future__ import annotations

import hashlib
import runpy
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from il_audit.cli import cli
from il_audit.operations.function_bundle import ENTRY_POINT, MARKER

pytestmark = pytest.mark.subprocess  # every bundle builds the wheel with pip


def bundle(*args: str) -> Result:
    return CliRunner().invoke(cli, ["function", "bundle", *args])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bundle built from this checkout."""
    out = tmp_path_factory.mktemp("bundle") / "function"
    result = bundle("--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_bundle_holds_main_py_requirements_and_the_wheel(built: Path) -> None:
    """Three files; requirements.txt installs the vendored wheel with the subscriber extra."""
    [wheel] = built.glob("il_audit-*.whl")
    assert sorted(path.name for path in built.iterdir()) == sorted(
        ["main.py", "requirements.txt", wheel.name]
    )
    requirements = (built / "requirements.txt").read_text().splitlines()
    assert requirements[0].startswith(MARKER)
    assert [line for line in requirements if not line.startswith("#")] == [
        f"./{wheel.name}[subscriber]"
    ]
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "il_audit/subscriber_fn/main.py",
        "il_audit/config/defaults.json",
        "il_audit/sql/events_deduped.sql",
    } <= names


def test_main_py_exposes_the_cloudevent_entry_point(built: Path) -> None:
    """main.py exports handle_pubsub, registered with functions-framework as a CloudEvent
    function, so an HTTP-triggered deployment still hands it CloudEvents."""
    from functions_framework import _function_registry

    from il_audit.subscriber_fn.main import handle_pubsub

    namespace = runpy.run_path(str(built / "main.py"))
    assert namespace[ENTRY_POINT] is handle_pubsub
    assert namespace["__all__"] == [ENTRY_POINT]
    assert _function_registry.REGISTRY_MAP[ENTRY_POINT] == "cloudevent"


def test_a_rebuild_replaces_an_earlier_bundle_with_identical_bytes(
    built: Path, tmp_path: Path
) -> None:
    """Building again into a bundle directory clears it; the same source gives the same wheel,
    so Terraform's content-named archive does not change."""
    [wheel] = built.glob("il_audit-*.whl")
    out = tmp_path / "function"
    assert bundle("--out", str(out), "--wheel", str(wheel)).exit_code == 0  # an earlier bundle
    (out / "il_audit-0.0.1-py3-none-any.whl").write_bytes(b"stale")
    result = bundle("--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["main.py", "requirements.txt", wheel.name]
    )
    assert _sha(out / wheel.name) == _sha(wheel)
    assert result.output.splitlines()[-1].startswith(f"bundle {out}: ")


def test_a_given_wheel_is_vendored_unchanged(built: Path, tmp_path: Path) -> None:
    """--wheel skips the build and copies that wheel."""
    [wheel] = built.glob("il_audit-*.whl")
    out = tmp_path / "function"
    result = bundle("--out", str(out), "--wheel", str(wheel))
    assert result.exit_code == 0, result.output
    assert _sha(out / wheel.name) == _sha(wheel)
    assert "building" not in result.output


def test_a_directory_that_holds_something_else_is_refused(tmp_path: Path) -> None:
    """A non-empty directory that is not a bundle is left alone (exit 1)."""
    (tmp_path / "notes.txt").write_text("mine")
    result = bundle("--out", str(tmp_path))
    assert result.exit_code == 1
    assert "not empty" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_a_file_that_is_not_an_il_audit_wheel_is_refused(tmp_path: Path) -> None:
    """--wheel must name an il_audit wheel (exit 1, nothing written)."""
    fake = tmp_path / "other-1.0-py3-none-any.whl"
    fake.write_bytes(b"not a zip")
    result = bundle("--out", str(tmp_path / "function"), "--wheel", str(fake))
    assert result.exit_code == 1
    assert "not an il-audit wheel" in result.output
    assert not (tmp_path / "function").exists()


def test_wheel_and_source_together_are_bad_usage(built: Path, tmp_path: Path) -> None:
    """--wheel and --source exclude each other (exit 2)."""
    [wheel] = built.glob("il_audit-*.whl")
    result = bundle("--out", str(tmp_path / "f"), "--wheel", str(wheel), "--source", str(tmp_path))
    assert result.exit_code == 2
