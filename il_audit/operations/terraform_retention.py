"""``infra/terraform/retention.tf``: the retention deletes as BigQuery scheduled queries.

The policy is the module's variables (``partition_expiration_days``, the default,
and ``retention_days_by_family``), known only when Terraform runs, so the file
computes the statements with ``for`` expressions. Their SQL is rendered here from
:mod:`il_audit.schemas.retention` (the statement, the family match, the scheduled
cutoff) with Terraform interpolations in place of the family and the days, so
the deletes Terraform schedules are the ones ``il-audit retention apply`` and the
DuckDB sink run, family for family and in the same order.

Facts relied on (Terraform google provider, ``google_bigquery_data_transfer_config``):
``data_source_id = "scheduled_query"`` with ``params.query``; a DML query needs no
destination table; ``service_account_name`` runs it as that account, for which the
BigQuery Data Transfer service agent needs ``roles/iam.serviceAccountTokenCreator``
(the provider's scheduled-query example grants it; here on that one account).
"""

from __future__ import annotations

from il_audit.schemas.retention import (
    DEAD_LETTERS_FAMILY,
    DEFAULT_FAMILY,
    SCHEDULED_CUTOFF,
    Deletion,
    family_match,
)
from il_audit.schemas.tables import DEAD_LETTERS, EVENTS

_FAMILY = "zzfamilyzz"
_CONDITION = "zzconditionzz"


def _table(name: str) -> str:
    return f"`${{var.project_id}}.${{google_bigquery_dataset.audit.dataset_id}}.{name}`"


def _statement(table: str, time_column: str, days: str, condition: bool) -> str:
    """A delete as a Terraform string template (``days``: the expression of the days)."""
    deletion = Deletion("", table, time_column, 0, _CONDITION if condition else None)
    text = deletion.statement(
        _table(table), SCHEDULED_CUTOFF.format(days_before=f"${{{days} - 1}}")
    )
    return text.replace(_CONDITION, "${each_condition}")


def _quoted(template: str) -> str:
    return '"' + template.replace("\\", "\\\\").replace('"', '\\"') + '"'


def retention_tf(header: str) -> str:
    """The file's text, under the generator's ``header``."""
    match = family_match(_FAMILY).replace(_FAMILY, "${family}")
    events_time = EVENTS.partition_field or "occurred_at"
    dead_time = DEAD_LETTERS.partition_field or "received_at"
    family_delete = _statement(EVENTS.name, events_time, "days", True).replace(
        "${each_condition}", "${local.retention_conditions[family]}"
    )
    default_delete = _statement(
        EVENTS.name, events_time, "var.partition_expiration_days", True
    ).replace("${each_condition}", "${local.retention_default_condition}")
    default_all = _statement(EVENTS.name, events_time, "var.partition_expiration_days", False)
    dead_delete = _statement(
        DEAD_LETTERS.name, dead_time, "local.retention_dead_letter_days", False
    )
    inner = (
        "[for other in keys(local.retention_event_families) : local.retention_match[other] "
        'if startswith(other, "${family}.")]'
    )
    dead = _quoted(DEAD_LETTERS_FAMILY)
    families = (
        f"for family, days in var.retention_days_by_family : family => days if family != {dead}"
    )
    nested = (
        '"${local.retention_match[family]} AND NOT '
        '(${join(" OR ", local.retention_inner[family])})"'
    )
    dead_days = f"lookup(var.retention_days_by_family, {dead}, var.partition_expiration_days)"
    return f"""{header}
# Retention per event family (docs/retention.md): one BigQuery scheduled query a day per
# family, deleting the rows it keeps no longer. The family's own delete leaves the more
# specific families inside it alone; the default's ("*") leaves every family alone.
# Partition expiry (local.partition_expiration_ms) stays the outer bound: the longest.

locals {{
  retention_event_families = {{
    {families}
  }}
  retention_match = {{
    for family in keys(local.retention_event_families) : family => {_quoted(match)}
  }}
  retention_inner = {{
    for family in keys(local.retention_event_families) : family => {inner}
  }}
  retention_conditions = {{
    for family in keys(local.retention_event_families) : family => (
      length(local.retention_inner[family]) == 0
      ? local.retention_match[family]
      : {nested}
    )
  }}
  retention_default_condition = "NOT (${{join(" OR ", values(local.retention_match))}})"
  retention_dead_letter_days = {dead_days}

  retention_deletes = merge(
    {{
      for family, days in local.retention_event_families : family => {_quoted(family_delete)}
    }},
    var.partition_expiration_days == null ? {{}} : {{
      {_quoted(DEFAULT_FAMILY)} = (
        length(local.retention_event_families) == 0
        ? {_quoted(default_all)}
        : {_quoted(default_delete)}
      )
    }},
    local.retention_dead_letter_days == null ? {{}} : {{
      {dead} = {_quoted(dead_delete)}
    }},
  )
  retention_enabled = length(local.retention_deletes) > 0
}}

# The identity the deletes run as: rows of this dataset, and query jobs (project-wide:
# BigQuery grants jobs on projects only).
resource "google_service_account" "retention" {{
  count = local.retention_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${{var.service_account_prefix}}-retention"
  display_name = "il-audit retention"
  description  = "Runs the daily retention deletes of ${{var.dataset}} (scheduled queries)."
}}

# A dataset access entry, like the function's (iam.tf says why: the dataset IAM resources
# fight with the access entries that authorise the analyst dataset).
resource "google_bigquery_dataset_access" "retention_edits_dataset" {{
  count = local.retention_enabled ? 1 : 0

  project       = var.project_id
  dataset_id    = google_bigquery_dataset.audit.dataset_id
  role          = "roles/bigquery.dataEditor"
  user_by_email = google_service_account.retention[0].email
}}

resource "google_project_iam_member" "retention_runs_query_jobs" {{
  count = local.retention_enabled ? 1 : 0

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${{google_service_account.retention[0].email}}"
}}

# The BigQuery Data Transfer service agent runs each scheduled query as that account.
resource "google_service_account_iam_member" "transfer_agent_acts_as_retention" {{
  count = local.retention_enabled ? 1 : 0

  service_account_id = google_service_account.retention[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.transfer_service_agent
}}

resource "google_bigquery_data_transfer_config" "retention" {{
  for_each = local.retention_deletes

  project              = var.project_id
  location             = var.dataset_location
  display_name         = "il-audit retention ${{each.key}}"
  data_source_id       = "scheduled_query"
  schedule             = "every 24 hours"
  service_account_name = google_service_account.retention[0].email
  params = {{
    query = each.value
  }}

  depends_on = [
    google_project_service.apis,
    google_bigquery_dataset_access.retention_edits_dataset,
    google_project_iam_member.retention_runs_query_jobs,
    google_service_account_iam_member.transfer_agent_acts_as_retention,
  ]
}}
"""
