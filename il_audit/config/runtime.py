"""Where the process runs: managed Google runtimes and the project they belong to.

Cloud Run services and jobs, Cloud Functions gen2 and App Engine set standard
variables, but not ``GOOGLE_CLOUD_PROJECT``. There the disk goes away with the
instance, so ``auto`` must publish to Pub/Sub; the project then comes from the
il-audit variables or, failing those, from ``google.auth.default()``, which
asks the metadata server. GKE is deliberately not detected: every pod (CI
runners included) has ``KUBERNETES_SERVICE_HOST``, so GKE users set the
project or the transport themselves.

This module imports nothing from Google at import time: :class:`ProjectResolver`
receives its lookup function, and the Pub/Sub transport (which already imports
google-auth on the constructing thread) supplies :func:`google_auth_project`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

MANAGED_RUNTIME_VARIABLES: Final = ("K_SERVICE", "CLOUD_RUN_JOB", "FUNCTION_TARGET", "GAE_SERVICE")
"""Variables that mark a managed Google runtime, in the order they are reported."""

PROJECT_VARIABLES_HINT: Final = "IL_BQ_LOGS_PROJECT (or GOOGLE_CLOUD_PROJECT)"


def detect_managed_runtime(environ: Mapping[str, str]) -> str | None:
    """The first managed-runtime variable set in ``environ``, or None off Google's runtimes."""
    for variable in MANAGED_RUNTIME_VARIABLES:
        if environ.get(variable, "").strip():
            return variable
    return None


@dataclass(frozen=True, slots=True)
class ProjectLookup:
    """The answer of one project lookup: a project and where it came from, or why not."""

    project: str | None
    origin: str
    """Where the project came from (or where it was looked for)."""
    credentials: str | None = None
    """What kind of credentials the lookup found, for humans."""
    problem: str | None = None
    """Why no project was found."""
    timed_out: bool = False
    """The lookup did not finish in time: nothing is known (it may still succeed)."""


Lookup = Callable[[], ProjectLookup]


class ProjectResolver:
    """Runs a project lookup off the caller's thread, bounded in time; caches only a success.

    :meth:`resolve` starts the lookup on a daemon thread (unless one is still
    running) and waits at most ``timeout`` seconds for it. A failed or
    unfinished lookup returns its problem and is tried again on the next call;
    the caller (the publisher's worker) spaces those calls with its backoff.
    """

    def __init__(self, lookup: Lookup, *, timeout: float = 2.0) -> None:
        self._lookup = lookup
        self._timeout = timeout
        self._lock = threading.Lock()
        self._success: ProjectLookup | None = None
        self._running: threading.Thread | None = None
        self._last: ProjectLookup | None = None
        self._done = threading.Event()

    def resolve(self, timeout: float | None = None) -> ProjectLookup:
        """The project, or a lookup without one whose ``problem`` says why."""
        if self._success is not None:
            return self._success
        with self._lock:
            if self._running is None or not self._running.is_alive():
                self._done.clear()
                self._running = threading.Thread(
                    target=self._run, name="il-audit-project-lookup", daemon=True
                )
                self._running.start()
        started = time.monotonic()
        self._done.wait(self._timeout if timeout is None else timeout)
        finished = self._finished()
        if finished is not None:
            return finished
        waited = time.monotonic() - started
        return ProjectLookup(
            None,
            "google.auth.default()",
            problem=f"google.auth.default() did not answer within {waited:.1f}s",
            timed_out=True,
        )

    def _finished(self) -> ProjectLookup | None:
        if self._success is not None:
            return self._success
        return self._last if self._done.is_set() else None

    def _run(self) -> None:
        try:
            result = self._lookup()
        except Exception as exc:  # noqa: BLE001 - the lookup must report, never kill its thread loudly
            result = ProjectLookup(
                None, "google.auth.default()", problem=f"{type(exc).__name__}: {exc}"
            )
        self._last = result
        if result.project:
            self._success = result
        self._done.set()


def google_auth_project() -> ProjectLookup:
    """Ask ``google.auth.default()`` for the project (the metadata server on Google's runtimes)."""
    import google.auth
    from google.auth import exceptions as auth_exceptions

    try:
        credentials, project = google.auth.default()
    except auth_exceptions.GoogleAuthError as exc:
        return ProjectLookup(
            None, "google.auth.default()", problem=f"no credentials found ({exc})".strip()
        )
    kind = describe_credentials(credentials)
    if not project:
        return ProjectLookup(
            None,
            "google.auth.default()",
            credentials=kind,
            problem=f"google.auth.default() found {kind} but no project",
        )
    return ProjectLookup(str(project), f"google.auth.default() ({kind})", credentials=kind)


def describe_credentials(credentials: Any) -> str:
    """A short human name for a google-auth credentials object."""
    module = type(credentials).__module__
    if module.startswith("google.auth.compute_engine"):
        return "the metadata server's service account"
    if module.startswith("google.oauth2.service_account"):
        return "a service account key file"
    if module.startswith("google.oauth2.credentials"):
        return "gcloud user credentials"
    if module.startswith("google.auth.impersonated_credentials"):
        return "impersonated credentials"
    if module.startswith(("google.auth.external_account", "google.auth.identity_pool")):
        return "workload identity federation"
    return f"{module}.{type(credentials).__name__}"
