"""What ``il-audit migrate`` did or would do: a :class:`Step` per table, in a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from il_audit.operations.migrate_rates import RatesMerge
from il_audit.operations.plan import Change

COST_RATES: Final = "cost_rates"
StepAction = Literal["rename", "merge", "skip", "refuse", "forced", "problem"]
_SYMBOLS: Final = {
    "rename": ">",
    "merge": "+",
    "skip": "-",
    "refuse": "!",
    "forced": "!",
    "problem": "!",
}


class Reportable(Protocol):
    """Anything with a one-line description (steps and infra changes)."""

    def line(self) -> str:
        """One line for humans."""
        ...


@dataclass(frozen=True)
class Step:
    """One thing the migration did (or would do) to one table."""

    action: StepAction
    name: str
    detail: str = ""

    def line(self) -> str:
        """One line for humans."""
        return f"{_SYMBOLS[self.action]} {self.action:<12} {self.name}" + (
            f"  ({self.detail})" if self.detail else ""
        )


@dataclass
class MigrationReport:
    """Everything the migration did or would do."""

    dry_run: bool
    release: str = "0.1.3"
    """The il-audit release whose dataset this is (``0.1.3``, ``1.0``), as messages name it."""
    steps: list[Step] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rates: RatesMerge | None = None

    @property
    def refused(self) -> bool:
        """Whether an active writer of the older release stopped the run."""
        return any(step.action == "refuse" for step in self.steps)

    @property
    def ok(self) -> bool:
        """Whether the migration is complete: nothing refused, no problem, and no older table
        still where a view standing in for it or our cost_rates belongs."""
        from il_audit.sql import legacy_view_names

        migrated = {*legacy_view_names(), COST_RATES}
        blocked = any(
            change.action == "drift" and change.name.rsplit(".", 1)[-1] in migrated
            for change in self.changes
        )
        return not blocked and not any(step.action in ("refuse", "problem") for step in self.steps)

    def summary(self) -> str:
        """Counts for humans."""
        verb = "would " if self.dry_run else ""
        if self.refused:
            return (
                f"refused: an il-audit {self.release} writer is still active "
                "(stop it, or pass --force)"
            )
        renamed = sum(step.action == "rename" for step in self.steps)
        problems = sum(step.action == "problem" for step in self.steps)
        views = sum(
            change.kind == "view" and change.action in ("create", "update")
            for change in self.changes
        )
        drift = sum(change.action == "drift" for change in self.changes)
        parts = [f"{verb}rename {renamed} table(s)", f"{verb}create or update {views} view(s)"]
        if self.rates is not None:
            parts.append(
                f"rates: {len(self.rates.new)} {verb}merge, {self.rates.present} already "
                f"present, {len(self.rates.skipped)} skipped"
            )
        if problems:
            parts.append(f"{problems} problem(s)")
        if drift:
            parts.append(f"{drift} drift")
        if not renamed and not views and not (self.rates and self.rates.new):
            return "nothing to migrate (" + "; ".join(parts) + ")"
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The report as ``--format json`` prints it (stable snake_case keys)."""
        rates = self.rates
        return {
            "release": self.release,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "refused": self.refused,
            "summary": self.summary(),
            "steps": [
                {"action": step.action, "name": step.name, "detail": step.detail}
                for step in self.steps
            ],
            "changes": [
                {
                    "kind": change.kind,
                    "name": change.name,
                    "action": change.action,
                    "detail": change.describe(),
                }
                for change in self.changes
            ],
            "rates": None
            if rates is None
            else {
                "merged": len(rates.new),
                "present": rates.present,
                "skipped": [{"rate": rate, "reason": reason} for rate, reason in rates.skipped],
            },
        }
