"""Figures from the reliability scenarios, for docs/reliability.md.

With ``IL_AUDIT_RELIABILITY_LOG=FILE`` set, scenario tests append one JSON
line each (scenario, sent, received, duplicates, lost, ...); without it,
nothing is written. The tests assert the figures either way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any


def delivery(sent: Iterable[str], received: list[str]) -> dict[str, int]:
    """sent / received (distinct) / duplicates absorbed / lost, from event ids."""
    sent_set = set(sent)
    distinct = set(received)
    return {
        "sent": len(sent_set),
        "received": len(distinct & sent_set),
        "duplicates": len(received) - len(distinct),
        "lost": len(sent_set - distinct),
    }


def record(scenario: str, **figures: Any) -> None:
    """Append the scenario's figures to ``$IL_AUDIT_RELIABILITY_LOG`` (if set)."""
    path = os.environ.get("IL_AUDIT_RELIABILITY_LOG")
    if not path:
        return
    line = {
        "scenario": scenario,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
