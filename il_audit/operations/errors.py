"""Errors of the operator jobs: the function bundle, the dead-letter tools, `infra apply`."""

from __future__ import annotations

from il_audit.errors import AuditError


class BundleError(AuditError, RuntimeError):
    """The bundle could not be built (the directory is left as it was)."""


class DlqError(AuditError, RuntimeError):
    """A dead-letter operation could not proceed."""


class DeliveryChangeRefusedError(AuditError, RuntimeError):
    """``infra apply`` would change where messages are delivered and was not allowed to."""

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(
            "; ".join(changes) + ": refused, events would stop reaching their consumer; "
            "keep the delivery with --push-endpoint (or --no-pubsub), or re-run with "
            "--allow-delivery-change if that is intended"
        )


class ErasureError(AuditError, RuntimeError):
    """``il-audit erase`` could not proceed (no hash key, an engine that refused, ...)."""


class PendingRowsError(AuditError, RuntimeError):
    """The engine refused to change some rows for now (BigQuery's streaming buffer).

    ``il-audit erase`` reports them as pending and exits 1; a re-run later changes them.
    """

    def __init__(self, message: str, rows: int) -> None:
        super().__init__(message)
        self.rows = rows


class LedgerError(AuditError, RuntimeError):
    """``il-audit ledger seal`` or ``verify`` could not proceed (a refused write, no ledger)."""


class LedgerExportError(LedgerError):
    """A seal could not be written to its Cloud Storage export (the seal itself is stored)."""


class SealConflictError(LedgerExportError):
    """The seal's export object exists with other bytes: never overwritten, someone must look.

    Either the export was tampered with (someone wrote the object first) or a seal of that
    table and period was made twice with different contents.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(
            f"{uri} already exists with other contents than this seal; it was not overwritten "
            "(compare it with audit_ledger: a second seal of one period, or tampering)"
        )
