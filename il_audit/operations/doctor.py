"""``il-audit doctor``: what the publisher would do here, and why.

It resolves the settings the way an app does, then says which transport
``auto`` picks and why, which project (and where it came from), the topic,
the credentials, the spool, and whether publishing would be allowed. Apps
usually hold only ``roles/pubsub.publisher`` and cannot read the topic, so the
permission is checked with ``testIamPermissions``, which needs no other role.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from il_audit.config.runtime import (
    PROJECT_VARIABLES_HINT,
    ProjectLookup,
    ProjectResolver,
    google_auth_project,
)
from il_audit.config.settings import AuditSettings, Transport
from il_audit.errors import SettingsError

PUBLISH_PERMISSION = "pubsub.topics.publish"
MISSING_TOPIC = (
    "the topic does not exist: provision it with `il-audit infra apply` and deploy the "
    "subscriber before hosts publish (docs/migrating.md: Upgrading to 2.0)"
)


Verdict = Literal["ok", "problem", "unknown"]
"""ok: events would be delivered (or auditing is off on purpose); problem: they would not,
or a setting is invalid; unknown: a check could not be made (no answer in time, refused)."""

EXIT_CODES: Final[dict[str, int]] = {"ok": 0, "problem": 1, "unknown": 3}
_RANK: Final[dict[str, int]] = {"ok": 0, "unknown": 1, "problem": 2}
_PERMISSION_VERDICTS: Final[dict[bool | None, Verdict]] = {
    True: "ok",
    False: "problem",
    None: "unknown",
}
NO_CREDENTIALS = (
    "publishing would NOT work: no Google credentials: run `gcloud auth application-default "
    'login`, or use the dev stack (`il-audit dev up`, then `eval "$(il-audit dev env)"`)'
)


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis: a name, what was resolved, why, and its verdict."""

    name: str
    value: str
    why: str = ""
    verdict: Verdict = "ok"


@dataclass(frozen=True)
class SpoolState:
    """The disk spool: where, how full, how old its oldest waiting event is."""

    dir: str
    bytes: int
    max_bytes: int
    segments: int
    directories: int
    orphaned_directories: int
    """Directories whose process has gone: the next publisher with this spool adopts them."""
    oldest_record_at: datetime | None


@dataclass
class Diagnosis:
    """Everything doctor found; the verdict is the worst of its findings'."""

    findings: list[Finding] = field(default_factory=list)
    summary: str = ""
    spool: SpoolState | None = None
    last_publish_error: tuple[float, str] | None = None
    retention: dict[str, Any] | None = None
    """The effective retention: partition_expiration_days, and the days of each family."""

    def add(self, name: str, value: str, why: str = "", verdict: Verdict = "ok") -> None:
        """Record a finding."""
        self.findings.append(Finding(name, value, why, verdict))

    def conclude(self, verdict: Verdict, summary: str) -> None:
        """Where events go (or why they would not), as the ``delivery`` finding."""
        self.add("delivery", verdict, summary, verdict)
        self.summary = summary

    @property
    def verdict(self) -> Verdict:
        """``ok``, ``problem`` or ``unknown``: the worst finding's."""
        worst: Verdict = "ok"
        for item in self.findings:
            if _RANK[item.verdict] > _RANK[worst]:
                worst = item.verdict
        return worst

    @property
    def ok(self) -> bool:
        """Whether the verdict is ``ok``."""
        return self.verdict == "ok"

    @property
    def exit_code(self) -> int:
        """0 ok, 1 problem, 3 unknown."""
        return EXIT_CODES[self.verdict]

    @property
    def reason(self) -> str:
        """One line: the conclusion, unless another finding decided the verdict."""
        verdict = self.verdict
        if verdict == "ok" or any(
            item.name == "delivery" and item.verdict == verdict for item in self.findings
        ):
            return self.summary
        item = next(item for item in self.findings if item.verdict == verdict)
        return f"{item.name} {item.value}: {item.why}" if item.why else item.value

    def as_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-friendly data with stable snake_case keys."""
        spool = None
        if self.spool is not None:
            spool = asdict(self.spool)
            oldest = self.spool.oldest_record_at
            spool["oldest_record_at"] = oldest.isoformat() if oldest else None
        error = None
        if self.last_publish_error is not None:
            at, message = self.last_publish_error
            error = {"at": datetime.fromtimestamp(at, UTC).isoformat(), "message": message}
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "reason": self.reason,
            "summary": self.summary,
            "findings": [
                {"name": i.name, "value": i.value, "why": i.why, "verdict": i.verdict}
                for i in self.findings
            ],
            "spool": spool,
            "retention": self.retention,
            "last_publish_error": error,
        }


def doctor(*, timeout: float = 10.0) -> Diagnosis:
    """Diagnose this process's environment, with the last publish error this process saw.

    ``il-audit doctor`` in-process: ``diagnosis.verdict`` is ``ok``, ``problem`` or
    ``unknown``; ``diagnosis.as_dict()`` is what ``--format json`` prints.
    """
    from il_audit.publisher import last_publish_error

    diagnosis = diagnose(lookup_timeout=timeout)
    diagnosis.last_publish_error = last_publish_error()
    if diagnosis.last_publish_error is not None:
        at, message = diagnosis.last_publish_error
        when = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
        diagnosis.add("last_publish_error", when, message)
    return diagnosis


def diagnose(
    environ: Mapping[str, str] | None = None, *, lookup_timeout: float = 10.0
) -> Diagnosis:
    """Resolve settings, transport, project, topic, credentials, spool and permission."""
    env = os.environ if environ is None else environ
    diagnosis = Diagnosis()
    try:
        settings = AuditSettings.from_env(env)
    except SettingsError as exc:
        diagnosis.add(
            "settings", "invalid", f"{exc}; an app logs this and uses the defaults", "problem"
        )
        logging.getLogger("il_audit.config.settings").disabled = True  # said once, above
        try:
            settings = AuditSettings.from_env(env, lenient=True)
        finally:
            logging.getLogger("il_audit.config.settings").disabled = False
    transport = settings.resolved_transport
    diagnosis.add("transport", transport.value, _transport_reason(settings))
    if transport is Transport.OFF:
        diagnosis.conclude("ok", "auditing is off: nothing is published")
    elif transport is Transport.PUBSUB:
        _diagnose_pubsub(settings, env, diagnosis, lookup_timeout)
    elif transport is Transport.LOCAL:
        _diagnose_local(settings, diagnosis)
    else:
        diagnosis.conclude("ok", f"events stay in this process ({transport.value} transport)")
    _diagnose_spool(settings, diagnosis)
    _diagnose_retention(settings, diagnosis)
    return diagnosis


def _days(days: int | None) -> str:
    return "forever" if days is None else f"{days} d"


def _diagnose_retention(settings: AuditSettings, diagnosis: Diagnosis) -> None:
    """How long each event family is kept (``*``: the events no family names)."""
    policy = settings.retention
    diagnosis.retention = {
        "partition_expiration_days": policy.partition_days,
        "families": policy.effective(),
    }
    shown = ", ".join(f"{family} {_days(days)}" for family, days in policy.effective().items())
    diagnosis.add(
        "retention",
        shown,
        f"IL_AUDIT_RETENTION_DAYS ({settings.origin('retention_days')}) and "
        f"IL_AUDIT_RETENTION_DAYS_BY_FAMILY ({settings.origin('retention_days_by_family')}); "
        f"partitions expire after {_days(policy.partition_days)} (the longest); "
        "`il-audit retention show`",
    )


def _transport_reason(settings: AuditSettings) -> str:
    chosen = f"IL_AUDIT_TRANSPORT={settings.transport.value} ({settings.origin('transport')})"
    if not settings.enabled:
        return f"auditing is switched off ({settings.origin('enabled')})"
    if settings.transport is not Transport.AUTO:
        return chosen
    if settings.managed_runtime:
        return (
            f"{chosen}; {settings.managed_runtime} is set, a managed Google runtime whose disk "
            "goes away with the instance, so events go to Pub/Sub"
        )
    if settings.project:
        return f"{chosen}; a project is set ({settings.origin('project')})"
    return (
        f"{chosen}; no project variable and no managed runtime, so the embedded file "
        "(a gcloud login is deliberately not used to pick a project)"
    )


def _diagnose_pubsub(
    settings: AuditSettings, env: Mapping[str, str], diagnosis: Diagnosis, timeout: float
) -> None:
    emulator = env.get("PUBSUB_EMULATOR_HOST", "").strip()
    lookup: ProjectLookup | None = None
    if settings.project:
        project: str | None = settings.project
        diagnosis.add("project", settings.project, settings.origin("project"))
    else:
        lookup = ProjectResolver(google_auth_project, timeout=timeout).resolve()
        project = lookup.project
        if project:
            diagnosis.add("project", project, lookup.origin)
        else:
            diagnosis.add("project", "none", f"set {PROJECT_VARIABLES_HINT}; {lookup.problem}")
    topic_path = f"projects/{project or '?'}/topics/{settings.topic}"
    diagnosis.add("topic", topic_path, settings.origin("topic"))
    credentials = _diagnose_credentials(env, emulator, lookup, diagnosis, timeout)
    if not project:
        diagnosis.conclude(
            "problem", "publishing would NOT work: no project; events wait in memory (or the spool)"
        )
        return
    if credentials is not None:
        diagnosis.conclude(*credentials)
        return
    allowed, why = check_publish_permission(topic_path, timeout, emulator)
    diagnosis.add(
        "permission",
        {True: "granted", False: "denied", None: "unknown"}[allowed],
        why,
        _PERMISSION_VERDICTS[allowed],
    )
    if allowed:
        diagnosis.conclude("ok", f"publishing to {topic_path} would work")
    elif allowed is False:
        diagnosis.conclude("problem", f"publishing to {topic_path} would NOT work: {why}")
    else:
        diagnosis.conclude("unknown", f"publishing to {topic_path} could not be checked: {why}")


def _diagnose_credentials(
    env: Mapping[str, str],
    emulator: str,
    lookup: ProjectLookup | None,
    diagnosis: Diagnosis,
    timeout: float,
) -> tuple[Verdict, str] | None:
    """Add the credentials finding; the conclusion when they stop the check, else None."""
    if emulator:
        diagnosis.add("credentials", "none needed", f"PUBSUB_EMULATOR_HOST={emulator}")
        return None
    if lookup is None:
        lookup = ProjectResolver(google_auth_project, timeout=timeout).resolve()
    verdict: Verdict = "ok" if lookup.credentials else "unknown" if lookup.timed_out else "problem"
    why = lookup.problem or lookup.origin
    diagnosis.add("credentials", lookup.credentials or "none found", why, verdict)
    if verdict == "unknown":
        metadata = env.get("GCE_METADATA_HOST", "").strip() or "metadata.google.internal"
        return verdict, (
            f"the credentials could not be checked: {why} (it asks the metadata server at "
            f"{metadata} last): raise --timeout, or set GOOGLE_APPLICATION_CREDENTIALS"
        )
    return (verdict, NO_CREDENTIALS) if verdict == "problem" else None


def check_publish_permission(
    topic_path: str, timeout: float, emulator: str = ""
) -> tuple[bool | None, str]:
    """Whether the caller may publish to ``topic_path`` (None: could not tell), and why.

    Each call waits at most ``timeout`` seconds; a failure names the address asked.
    """
    from google.api_core import exceptions as core_exceptions
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    where = f"the emulator at {emulator}" if emulator else "Pub/Sub (pubsub.googleapis.com:443)"
    fix = (
        "is it running? (a stale `il-audit dev env` after a new `dev up`?)"
        if emulator
        else "check the network, or raise --timeout"
    )
    try:
        client = pubsub_v1.PublisherClient()
        response = client.test_iam_permissions(
            request={"resource": topic_path, "permissions": [PUBLISH_PERMISSION]},
            timeout=timeout,
            retry=None,
        )
    except core_exceptions.MethodNotImplemented:
        # The emulator has no IAM: everything is allowed if the topic exists.
        try:
            client.get_topic(topic=topic_path, timeout=timeout, retry=None)
        except core_exceptions.NotFound:
            return False, MISSING_TOPIC
        except core_exceptions.GoogleAPICallError as exc:
            return None, f"{where} answered {exc}"
        return True, "the emulator has no IAM, and the topic exists"
    except core_exceptions.NotFound:
        return False, MISSING_TOPIC
    except core_exceptions.DeadlineExceeded as exc:
        return None, f"{where} did not answer within {timeout:g} s ({_first_line(exc)}): {fix}"
    except core_exceptions.ServiceUnavailable as exc:
        return None, f"{where} could not be reached ({_first_line(exc)}): {fix}"
    except core_exceptions.GoogleAPICallError as exc:
        return None, f"testIamPermissions at {where} failed: {_first_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - credentials, network: say what happened, never crash doctor
        return None, f"asking {where}: {type(exc).__name__}: {_first_line(exc)}"
    if PUBLISH_PERMISSION in response.permissions:
        return True, f"testIamPermissions grants {PUBLISH_PERMISSION}"
    return False, f"the credentials lack {PUBLISH_PERMISSION} (grant roles/pubsub.publisher)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _diagnose_local(settings: AuditSettings, diagnosis: Diagnosis) -> None:
    path = settings.duckdb_path
    diagnosis.add("database", path, settings.origin("duckdb_path"))
    try:
        import duckdb  # noqa: F401
    except ImportError:
        diagnosis.conclude(
            "problem", "the embedded mode needs DuckDB: pip install 'il-audit[embedded]'"
        )
        return
    problem = _unwritable(os.path.dirname(os.path.abspath(path)) or ".")
    if problem:
        diagnosis.conclude("problem", f"cannot write the embedded file {path}: {problem}")
        return
    diagnosis.conclude("ok", f"events go to the embedded file {path}")


def _unwritable(folder: str) -> str | None:
    """Why a file cannot be created in ``folder`` (None: it can).

    A missing folder is fine when the nearest existing one above it is a writable
    directory: the sink creates the rest (``mkdir(parents=True)``).
    """
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a directory"
    if not os.access(existing, os.W_OK):
        return f"{existing} is not writable by this user"
    return None


def _diagnose_spool(settings: AuditSettings, diagnosis: Diagnosis) -> None:
    if not settings.spool_dir:
        diagnosis.add("spool", "off", "IL_AUDIT_SPOOL_DIR is unset")
        return
    from il_audit.publisher.spool_reader import oldest_waiting, summarize

    summary = summarize(settings.spool_dir)
    state = SpoolState(
        dir=settings.spool_dir,
        bytes=summary.bytes,
        max_bytes=settings.spool_max_bytes,
        segments=summary.segments,
        directories=summary.directories,
        orphaned_directories=summary.adoptable,
        oldest_record_at=oldest_waiting(settings.spool_dir) if summary.segments else None,
    )
    diagnosis.spool = state
    oldest = state.oldest_record_at
    full = state.bytes >= state.max_bytes
    diagnosis.add(
        "spool",
        settings.spool_dir,
        f"{state.bytes} of {state.max_bytes} bytes in {state.segments} segment(s); "
        f"{state.directories} process dir(s), {state.orphaned_directories} orphaned (their "
        "process has gone: the next publisher with this spool drains them); oldest waiting "
        f"event {oldest.isoformat(timespec='seconds') if oldest else 'none'}"
        + ("; FULL: new messages are dropped (raise IL_AUDIT_SPOOL_MAX_BYTES)" if full else ""),
        "problem" if full else "ok",
    )
