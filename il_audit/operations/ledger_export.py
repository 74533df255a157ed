"""Export seals to Cloud Storage, each once: the copy that the dataset's admins cannot reach.

``il-audit ledger seal --export gs://BUCKET/PREFIX`` hands each new seal to
:func:`export_seal` (or, for many, to one :class:`SealExporter`): one JSON object per seal
at ``PREFIX/TABLE/PERIOD_START.json``, uploaded with ``ifGenerationMatch=0``, the Cloud
Storage precondition "only if no live object has this name" (412 otherwise). Nothing is
ever overwritten. An existing object is accepted only when its bytes are this seal's own,
which is what a re-run sees after a crash between the upload and its answer; other bytes
raise :class:`~il_audit.operations.errors.SealConflictError`. The bucket is meant to have a
locked retention policy in another project (``infra/terraform/ledger.tf``,
docs/integrity-operations.md).

Why no google-cloud-storage: il-audit does not depend on it, and this is two requests of
the JSON API (a media upload and, on a conflict, a media download). They go through
google-auth's ``AuthorizedSession`` over requests, both already installed with
google-cloud-pubsub, so exporting adds no dependency.

``STORAGE_EMULATOR_HOST``, the variable google-cloud-storage honours (its value includes the
scheme despite the name, e.g. ``http://localhost:9023``), sends the requests to a local
stand-in instead, without credentials.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import orjson
import requests

from il_audit.operations.errors import LedgerExportError, SealConflictError
from il_audit.retrying import backoff_seconds

logger = logging.getLogger(__name__)

STORAGE_HOST: Final = "https://storage.googleapis.com"
EMULATOR_VARIABLE: Final = "STORAGE_EMULATOR_HOST"
# Create and read objects, nothing wider (the job's account holds objectCreator and
# objectViewer on the bucket, and nothing else there).
SCOPE: Final = "https://www.googleapis.com/auth/devstorage.read_write"
CONTENT_TYPE: Final = "application/json"

# 408 and 429 and 5xx are worth another try (il_audit.retrying's rule); a retried upload is
# safe: if the first one landed, the retry gets 412 and the bytes are compared.
_RETRYABLE_STATUS: Final = frozenset({408, 429})
_TABLE_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
_BUCKET_NAME: Final = re.compile(r"^[a-z0-9][-_.a-z0-9]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class Destination:
    """``gs://BUCKET/PREFIX`` taken apart (the prefix without slashes at its ends)."""

    bucket: str
    prefix: str

    def object_name(self, seal: Mapping[str, Any]) -> str:
        """``PREFIX/TABLE/PERIOD_START.json`` for one seal."""
        name = f"{_table_name(seal)}/{period_label(seal.get('period_start'))}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, object_name: str) -> str:
        """``gs://BUCKET/OBJECT``."""
        return f"gs://{self.bucket}/{object_name}"


@dataclass(frozen=True)
class ExportedSeal:
    """Where a seal went, and whether this call created the object (False: it was there,
    byte for byte)."""

    uri: str
    created: bool
    size: int


def parse_destination(destination: str) -> Destination:
    """``gs://BUCKET`` or ``gs://BUCKET/PREFIX`` (a trailing slash is dropped)."""
    if not destination.startswith("gs://"):
        raise LedgerExportError(f"export destination {destination!r} is not gs://BUCKET/PREFIX")
    bucket, _, prefix = destination.removeprefix("gs://").partition("/")
    if not _BUCKET_NAME.match(bucket):
        raise LedgerExportError(f"export destination {destination!r}: {bucket!r} is no bucket")
    return Destination(bucket, prefix.strip("/"))


def period_label(value: Any) -> str:
    """A period start as the object name shows it: UTC ISO 8601 with ``Z``.

    A naive datetime (DuckDB's TIMESTAMP) is taken as UTC; seconds only unless the start
    has a fraction.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise LedgerExportError(f"seal period_start {value!r} is no timestamp") from exc
    if not isinstance(value, datetime):
        raise LedgerExportError(f"seal period_start {value!r} is no timestamp")
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def seal_document(seal: Mapping[str, Any]) -> bytes:
    """The exported bytes: the seal as one JSON object, keys sorted, compact, one line.

    Values are normalised so that the same seal gives the same bytes whether it comes
    from memory or is read back from BigQuery or DuckDB: timestamps in UTC with
    microseconds and ``Z`` (naive ones taken as UTC), integral floats and decimals as
    integers, other decimals as plain digits, bytes as hex.
    """
    try:
        return orjson.dumps(_normal(seal), option=orjson.OPT_SORT_KEYS) + b"\n"
    except TypeError as exc:  # orjson: a value of a type _normal does not know
        raise LedgerExportError(f"seal cannot be written as JSON: {exc}") from exc


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _normal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LedgerExportError(f"seal holds {value}, which JSON cannot carry")
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise LedgerExportError(f"seal holds {value}, which JSON cannot carry")
        if value == value.to_integral_value():
            return int(value)
        return format(value.normalize(), "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _table_name(seal: Mapping[str, Any]) -> str:
    table = seal.get("table_name")
    if not isinstance(table, str) or not _TABLE_NAME.match(table):
        raise LedgerExportError(f"seal table_name {table!r} is no table name")
    return table


class SealExporter:
    """Exports seals to one destination over one HTTP session (credentials looked up once).

    ``timeout`` bounds each :meth:`export`, retries included.
    """

    def __init__(
        self, destination: str, *, timeout: float, session: requests.Session | None = None
    ) -> None:
        if timeout <= 0:
            raise LedgerExportError(f"export timeout must be positive, got {timeout}")
        self.destination = parse_destination(destination)
        self.timeout = timeout
        emulator = os.environ.get(EMULATOR_VARIABLE, "").strip()
        if emulator:
            self.host = emulator if "://" in emulator else f"http://{emulator}"
            self.host = self.host.rstrip("/")
        else:
            self.host = STORAGE_HOST
        self._session = session if session is not None else _session(anonymous=bool(emulator))

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> SealExporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def export(self, seal: Mapping[str, Any]) -> ExportedSeal:
        """Write ``seal`` once; accept an existing object only if it holds the same bytes."""
        name = self.destination.object_name(seal)
        uri = self.destination.uri(name)
        body = seal_document(seal)
        deadline = time.monotonic() + self.timeout
        bucket = quote(self.destination.bucket, safe="")
        upload = self._request(
            "POST",
            f"{self.host}/upload/storage/v1/b/{bucket}/o",
            uri,
            deadline,
            params={"uploadType": "media", "name": name, "ifGenerationMatch": "0"},
            data=body,
            headers={"Content-Type": CONTENT_TYPE},
        )
        if upload.status_code == 200:
            logger.info("seal exported to %s (%d bytes)", uri, len(body))
            return ExportedSeal(uri, created=True, size=len(body))
        if upload.status_code != 412:
            raise _refusal(upload, uri, "create", "roles/storage.objectCreator")
        existing = self._request(
            "GET",
            f"{self.host}/download/storage/v1/b/{bucket}/o/{quote(name, safe='')}",
            uri,
            deadline,
            params={"alt": "media"},
        )
        if existing.status_code != 200:
            raise _refusal(existing, uri, "read (to compare)", "roles/storage.objectViewer")
        if existing.content != body:
            raise SealConflictError(uri)
        logger.info("seal already exported to %s, byte for byte", uri)
        return ExportedSeal(uri, created=False, size=len(body))

    def _request(
        self, method: str, url: str, uri: str, deadline: float, **kwargs: Any
    ) -> requests.Response:
        """One call, tried again on 408/429/5xx and network errors until the deadline."""
        attempt = 0
        problem = "no attempt made"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerExportError(
                    f"exporting {uri}: gave up after {attempt} attempt(s) within "
                    f"{self.timeout:g}s: {problem}"
                )
            attempt += 1
            try:
                response = self._session.request(method, url, timeout=remaining, **kwargs)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 500 and status not in _RETRYABLE_STATUS:
                    return response
                problem = f"HTTP {status} {_message(response)}".strip()
            pause = min(backoff_seconds(attempt, 0.2, 5.0), deadline - time.monotonic())
            if pause > 0:
                logger.warning("exporting %s: %s; trying again in %.1fs", uri, problem, pause)
                time.sleep(pause)


def export_seal(seal: Mapping[str, Any], destination: str, *, timeout: float) -> ExportedSeal:
    """Write one seal to ``destination`` (``gs://BUCKET/PREFIX``) as
    ``PREFIX/TABLE/PERIOD_START.json``, never overwriting.

    An existing object is fine if it holds exactly this seal's bytes (``created`` is then
    False); otherwise :class:`~il_audit.operations.errors.SealConflictError`. Any other
    failure, or no success within ``timeout`` seconds (retries included), raises
    :class:`~il_audit.operations.errors.LedgerExportError`.
    """
    with SealExporter(destination, timeout=timeout) as exporter:
        return exporter.export(seal)


def _session(*, anonymous: bool) -> requests.Session:
    if anonymous:
        return requests.Session()
    import google.auth
    from google.auth import exceptions as auth_exceptions
    from google.auth.transport.requests import AuthorizedSession

    try:
        credentials, _project = google.auth.default(scopes=[SCOPE])
    except auth_exceptions.DefaultCredentialsError as exc:
        raise LedgerExportError(f"no Google credentials to export seals with: {exc}") from exc
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def _message(response: requests.Response) -> str:
    """The JSON API's ``error.message`` (or the start of the body)."""
    try:
        error = response.json().get("error", {})
        message = error.get("message") if isinstance(error, dict) else None
    except ValueError:
        message = None
    return str(message or response.text[:200]).strip()


def _refusal(response: requests.Response, uri: str, action: str, role: str) -> LedgerExportError:
    status = response.status_code
    detail = _message(response)
    if status in (401, 403):
        return LedgerExportError(
            f"may not {action} {uri} (HTTP {status}: {detail}); the exporting account needs "
            f"{role} on the bucket (infra/terraform/ledger.tf grants it)"
        )
    if status == 404:
        return LedgerExportError(f"cannot {action} {uri}: no such bucket or object ({detail})")
    return LedgerExportError(f"cannot {action} {uri}: HTTP {status} {detail}".rstrip())
