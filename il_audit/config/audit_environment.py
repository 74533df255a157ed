"""The environment label stamped on events (``environment``), with il-audit 1.0.35's names.

:func:`resolve_audit_environment` applies the first rule that gives a label:

1. ``IL_AUDIT_ENVIRONMENT``, kept as given (any label, not only the four below);
2. ``dev-local`` off a managed Google runtime (none of ``K_SERVICE``,
   ``CLOUD_RUN_JOB``, ``FUNCTION_TARGET``, ``GAE_SERVICE`` is set);
3. on a managed runtime, the label ``IL_AUDIT_ENVIRONMENT_MAP`` gives the
   project (``IL_BQ_LOGS_PROJECT``, then ``GOOGLE_CLOUD_PROJECT``, ``GCP_PROJECT``);
4. otherwise no label (``None``): the events' ``environment`` stays empty.

Two deliberate differences from 1.0.35: an explicit label that is not one of
the four constants is kept (1.0.35 replaced it with ``dev-local``), and an
unmapped managed runtime is unlabelled rather than ``dev-local`` (a production
service would otherwise read as a laptop). 1.0.35's project map was hard-coded;
here it is the ``IL_AUDIT_ENVIRONMENT_MAP`` setting, so
:data:`GCP_PROJECT_TO_AUDIT_ENVIRONMENT` is empty.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from il_audit.config._environment import ENV_BINDINGS, first_set
from il_audit.config.runtime import detect_managed_runtime
from il_audit.config.sections import parse_environment_map

__all__ = [
    "AUDIT_ENVIRONMENTS",
    "AUDIT_ENV_DEV_LOCAL",
    "AUDIT_ENV_DEV_TEST_1",
    "AUDIT_ENV_DEV_TEST_2",
    "AUDIT_ENV_PRODUCTION",
    "GCP_PROJECT_TO_AUDIT_ENVIRONMENT",
    "environment_label",
    "resolve_audit_environment",
]

AUDIT_ENV_DEV_TEST_1: Final = "dev-test-1"
AUDIT_ENV_DEV_TEST_2: Final = "dev-test-2"
AUDIT_ENV_DEV_LOCAL: Final = "dev-local"
AUDIT_ENV_PRODUCTION: Final = "production"
AUDIT_ENVIRONMENTS: Final = frozenset(
    {AUDIT_ENV_DEV_TEST_1, AUDIT_ENV_DEV_TEST_2, AUDIT_ENV_DEV_LOCAL, AUDIT_ENV_PRODUCTION}
)
"""1.0.35's four labels; any other label is kept too."""

GCP_PROJECT_TO_AUDIT_ENVIRONMENT: Final[Mapping[str, str]] = MappingProxyType({})
"""Empty: the project map is the ``IL_AUDIT_ENVIRONMENT_MAP`` setting."""


def environment_label(
    explicit: str | None,
    *,
    managed_runtime: str | None,
    project: str | None,
    environment_map: Mapping[str, str],
) -> str | None:
    """The label the rules above give for already-read settings (None: unlabelled)."""
    if explicit and explicit.strip():
        return explicit.strip()
    if managed_runtime is None:
        return AUDIT_ENV_DEV_LOCAL
    if project:
        return environment_map.get(project)
    return None


def resolve_audit_environment(
    *, bq_project: str = "", environ: Mapping[str, str] | None = None
) -> str | None:
    """1.0.35's resolver, with the rules above, read from ``environ`` (default ``os.environ``).

    ``bq_project`` is the project to map on a managed runtime; blank means the
    project variables. A malformed ``IL_AUDIT_ENVIRONMENT_MAP`` raises ValueError
    (the settings loader reports it with the variable's name instead).
    """
    env = os.environ if environ is None else environ
    found = first_set(env, ENV_BINDINGS["project"])
    mapping = first_set(env, ENV_BINDINGS["environment_map"])
    explicit = first_set(env, ENV_BINDINGS["environment"])
    return environment_label(
        explicit[1] if explicit else None,
        managed_runtime=detect_managed_runtime(env),
        project=bq_project.strip() or (found[1] if found else None),
        environment_map=parse_environment_map(mapping[1]) if mapping else {},
    )
