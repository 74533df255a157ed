"""What a provisioning run did or would do: one :class:`Change` per resource, in a :class:`Plan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "unchanged", "drift"]

ARROW = "→"


@dataclass(frozen=True)
class FieldChange:
    """One field of a resource that an update changes: its value before and after."""

    name: str
    before: str
    after: str

    def text(self) -> str:
        """``name: before → after``."""
        return f"{self.name}: {self.before} {ARROW} {self.after}"

    def as_json(self) -> dict[str, str]:
        """Stable snake_case keys."""
        return {"field": self.name, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Change:
    """One resource and what apply does (or would do) to it.

    An update lists each changed field in ``fields``, before and after.
    ``delivery_change`` is set when the change alters where or how messages are
    delivered (a push endpoint removed, added or moved): apply refuses it unless
    explicitly allowed.
    """

    kind: str
    name: str
    action: Action
    detail: str = ""
    fields: tuple[FieldChange, ...] = ()
    delivery_change: str = ""

    def describe(self) -> str:
        """The detail and every field's ``before → after``, in one string."""
        parts = [self.detail] if self.detail else []
        parts.extend(change.text() for change in self.fields)
        return "; ".join(parts)

    def line(self) -> str:
        """One line for humans."""
        symbol = {"create": "+", "update": "~", "unchanged": "=", "drift": "!"}[self.action]
        described = self.describe()
        return f"{symbol} {self.kind:<12} {self.name}" + (f"  ({described})" if described else "")

    def as_json(self) -> dict[str, Any]:
        """Stable snake_case keys (``infra apply --format json``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "detail": self.detail,
            "fields": [change.as_json() for change in self.fields],
            "delivery_change": self.delivery_change or None,
        }


@dataclass
class Plan:
    """Every change, applied or planned."""

    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) created or updated."""
        return any(change.action in ("create", "update") for change in self.changes)

    @property
    def delivery_changes(self) -> list[Change]:
        """The changes that alter message delivery (see :attr:`Change.delivery_change`)."""
        return [change for change in self.changes if change.delivery_change]

    def counts(self) -> dict[str, int]:
        """How many changes of each action."""
        counts = dict.fromkeys(("create", "update", "unchanged", "drift"), 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def summary(self) -> str:
        """Counts per action."""
        text = ", ".join(f"{count} {action}" for action, count in self.counts().items() if count)
        return text if self.changed else f"no changes ({text})"

    def as_json(self) -> dict[str, Any]:
        """Stable snake_case keys (``infra apply --format json``)."""
        return {
            "changed": self.changed,
            "counts": self.counts(),
            "summary": self.summary(),
            "changes": [change.as_json() for change in self.changes],
        }
