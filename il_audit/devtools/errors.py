"""Errors of the development tools: an emulator, the stand-in or the local stack not coming up."""

from __future__ import annotations

from il_audit.errors import AuditError


class EmulatorNotFoundError(AuditError, FileNotFoundError):
    """The Pub/Sub emulator launcher could not be found."""


class EmulatorStartError(AuditError, RuntimeError):
    """The emulator did not come up."""


class StandInNotFoundError(AuditError, FileNotFoundError):
    """No python with bqemulator was found."""


class StandInStartError(AuditError, RuntimeError):
    """The stand-in did not come up."""


class FunctionStartError(AuditError, RuntimeError):
    """functions-framework did not come up."""


class DevStackError(AuditError, RuntimeError):
    """The local stack could not be started, or its state is unusable."""
