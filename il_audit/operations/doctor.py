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
from dataclasses import dataclass, field
from typing import Any

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
    "subscriber before hosts publish (README: Upgrading to 2.0)"
)


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis: a name, what was resolved, and why."""

    name: str
    value: str
    why: str = ""


@dataclass
class Diagnosis:
    """Everything doctor found, and its verdict."""

    findings: list[Finding] = field(default_factory=list)
    ok: bool = True
    verdict: str = ""

    def add(self, name: str, value: str, why: str = "") -> None:
        """Record a finding."""
        self.findings.append(Finding(name, value, why))

    def as_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-friendly data."""
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "findings": [
                {"name": item.name, "value": item.value, "why": item.why} for item in self.findings
            ],
        }


def diagnose(
    environ: Mapping[str, str] | None = None, *, lookup_timeout: float = 10.0
) -> Diagnosis:
    """Resolve settings, transport, project, topic, credentials, spool and permission."""
    env = os.environ if environ is None else environ
    diagnosis = Diagnosis()
    try:
        settings = AuditSettings.from_env(env)
    except SettingsError as exc:
        diagnosis.add("settings", "invalid", f"{exc}; an app logs this and uses the defaults")
        logging.getLogger("il_audit.config.settings").disabled = True  # said once, above
        try:
            settings = AuditSettings.from_env(env, lenient=True)
        finally:
            logging.getLogger("il_audit.config.settings").disabled = False
    transport = settings.resolved_transport
    diagnosis.add("transport", transport.value, _transport_reason(settings))
    if transport is Transport.OFF:
        diagnosis.verdict = "auditing is off: nothing is published"
    elif transport is Transport.PUBSUB:
        _diagnose_pubsub(settings, env, diagnosis, lookup_timeout)
    elif transport is Transport.LOCAL:
        _diagnose_local(settings, diagnosis)
    else:
        diagnosis.verdict = f"events stay in this process ({transport.value} transport)"
    _diagnose_spool(settings, diagnosis)
    return diagnosis


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
    if emulator:
        diagnosis.add("credentials", "none needed", f"PUBSUB_EMULATOR_HOST={emulator}")
    else:
        if lookup is None:
            lookup = ProjectResolver(google_auth_project, timeout=timeout).resolve()
        diagnosis.add(
            "credentials", lookup.credentials or "none found", lookup.problem or lookup.origin
        )
    if not project:
        diagnosis.ok = False
        diagnosis.verdict = (
            "publishing would NOT work: no project; events wait in memory (or the spool)"
        )
        return
    allowed, why = check_publish_permission(topic_path, timeout)
    diagnosis.add("permission", {True: "granted", False: "denied", None: "unknown"}[allowed], why)
    diagnosis.ok = allowed is not False
    diagnosis.verdict = (
        f"publishing to {topic_path} would work"
        if allowed
        else f"publishing to {topic_path} would NOT work: {why}"
        if allowed is False
        else f"publishing to {topic_path} could not be checked: {why}"
    )


def check_publish_permission(topic_path: str, timeout: float) -> tuple[bool | None, str]:
    """Whether the caller may publish to ``topic_path`` (None: could not tell), and why."""
    from google.api_core import exceptions as core_exceptions
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    client = pubsub_v1.PublisherClient()
    try:
        response = client.test_iam_permissions(
            request={"resource": topic_path, "permissions": [PUBLISH_PERMISSION]},
            timeout=timeout,
        )
    except core_exceptions.MethodNotImplemented:
        # The emulator has no IAM: everything is allowed if the topic exists.
        try:
            client.get_topic(topic=topic_path, timeout=timeout)
        except core_exceptions.NotFound:
            return False, MISSING_TOPIC
        except core_exceptions.GoogleAPICallError as exc:
            return None, f"the emulator answered {exc}"
        return True, "the emulator has no IAM, and the topic exists"
    except core_exceptions.NotFound:
        return False, MISSING_TOPIC
    except core_exceptions.GoogleAPICallError as exc:
        return None, f"testIamPermissions failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - credentials, network: say what happened, never crash doctor
        return None, f"{type(exc).__name__}: {exc}"
    if PUBLISH_PERMISSION in response.permissions:
        return True, f"testIamPermissions grants {PUBLISH_PERMISSION}"
    return False, f"the credentials lack {PUBLISH_PERMISSION} (grant roles/pubsub.publisher)"


def _diagnose_local(settings: AuditSettings, diagnosis: Diagnosis) -> None:
    path = settings.duckdb_path
    diagnosis.add("database", path, settings.origin("duckdb_path"))
    try:
        import duckdb  # noqa: F401
    except ImportError:
        diagnosis.ok = False
        diagnosis.verdict = "the embedded mode needs DuckDB: pip install 'il-audit[embedded]'"
        return
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.access(folder, os.W_OK):
        diagnosis.ok = False
        diagnosis.verdict = f"cannot write {folder}"
        return
    diagnosis.verdict = f"events go to the embedded file {path}"


def _diagnose_spool(settings: AuditSettings, diagnosis: Diagnosis) -> None:
    if not settings.spool_dir:
        diagnosis.add("spool", "off", "IL_AUDIT_SPOOL_DIR is unset")
        return
    from il_audit.publisher.spool_reader import summarize

    summary = summarize(settings.spool_dir)
    diagnosis.add(
        "spool",
        settings.spool_dir,
        f"{summary.directories} process dir(s), {summary.adoptable} waiting to be adopted, "
        f"{summary.segments} segment(s), {summary.bytes} of {settings.spool_max_bytes} bytes",
    )
