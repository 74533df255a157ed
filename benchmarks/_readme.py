"""Writing a benchmark's table into benchmarks/README.md between its markers."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent / "README.md"


def write_section(name: str, text: str) -> None:
    """Replace what stands between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``."""
    content = README.read_text()
    pattern = rf"<!-- {name}:begin -->.*<!-- {name}:end -->"
    if not re.search(pattern, content, flags=re.S):
        raise SystemExit(f"benchmarks/README.md has no {name} markers")
    README.write_text(
        re.sub(
            pattern,
            lambda _: f"<!-- {name}:begin -->\n{text}<!-- {name}:end -->",
            content,
            flags=re.S,
        )
    )
