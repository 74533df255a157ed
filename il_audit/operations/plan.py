"""What a provisioning run did or would do: one :class:`Change` per resource, in a :class:`Plan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["create", "update", "unchanged", "drift"]


@dataclass(frozen=True)
class Change:
    """One resource and what apply does (or would do) to it."""

    kind: str
    name: str
    action: Action
    detail: str = ""

    def line(self) -> str:
        """One line for humans."""
        symbol = {"create": "+", "update": "~", "unchanged": "=", "drift": "!"}[self.action]
        return f"{symbol} {self.kind:<12} {self.name}" + (
            f"  ({self.detail})" if self.detail else ""
        )


@dataclass
class Plan:
    """Every change, applied or planned."""

    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) created or updated."""
        return any(change.action in ("create", "update") for change in self.changes)

    def summary(self) -> str:
        """Counts per action."""
        counts = dict.fromkeys(("create", "update", "unchanged", "drift"), 0)
        for change in self.changes:
            counts[change.action] += 1
        text = ", ".join(f"{count} {action}" for action, count in counts.items() if count)
        return text if self.changed else f"no changes ({text})"
