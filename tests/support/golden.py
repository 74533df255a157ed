"""Golden files: compare with ``tests/golden/NAME``; ``IL_AUDIT_UPDATE_GOLDEN=1`` rewrites them.

Rewriting is a deliberate act (the diff shows in review): the wire envelope and
the table schemas are contracts with data already stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


def assert_matches_golden(name: str, actual: Any) -> None:
    """Compare ``actual`` (JSON-serializable, or text) with the golden file ``name``."""
    path = GOLDEN_DIR / name
    text = actual if isinstance(actual, str) else json.dumps(actual, indent=2, sort_keys=False)
    text = text.rstrip("\n") + "\n"
    if os.environ.get("IL_AUDIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with IL_AUDIT_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; if intended, rerun with IL_AUDIT_UPDATE_GOLDEN=1"
