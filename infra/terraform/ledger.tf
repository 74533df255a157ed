# Seals (docs/integrity-operations.md): every hour Cloud Scheduler starts a Cloud Run job
# that runs `il-audit ledger seal --bigquery`, which seals each closed hour of ingestion into
# the dataset's audit_ledger tables and, with an export project, writes each seal once to a
# bucket with a locked retention policy in that other project.
#
# Off until var.ledger_image names the image (deploy/ledger/Dockerfile); the export is off
# until var.ledger_export_project_id is set too.

locals {
  ledger_enabled        = var.ledger_image != null
  ledger_export_enabled = local.ledger_enabled && var.ledger_export_project_id != null
  ledger_export_bucket  = coalesce(var.ledger_export_bucket, "${coalesce(var.ledger_export_project_id, var.project_id)}-il-audit-seals")

  # one() is null while the bucket does not exist (count = 0), so no "--export" then.
  ledger_export_uri = local.ledger_export_enabled ? "gs://${one(google_storage_bucket.ledger_export[*].name)}/${var.ledger_export_prefix}" : null
  ledger_args = concat(
    ["ledger", "seal", "--bigquery", "--format", "json"],
    local.ledger_export_enabled ? ["--export", local.ledger_export_uri] : [],
  )

  # Cloud Run Admin API v2, jobs.run: POST https://run.googleapis.com/v2/{name}:run with
  # name = projects/P/locations/L/jobs/J (the API's discovery document: path "v2/{+name}:run",
  # method run.projects.locations.jobs.run). An OAuth token, not OIDC: this is a Google API.
  ledger_run_uri = local.ledger_enabled ? "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${one(google_cloud_run_v2_job.ledger[*].name)}:run" : null
}

# --- Identities and grants ----------------------------------------------------------

resource "google_service_account" "ledger" {
  count = local.ledger_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.service_account_prefix}-ledger"
  display_name = "il-audit ledger (seals)"
  description  = "Runs ${var.ledger_job_name}: reads ${var.dataset}, writes its audit_ledger tables, exports seals."
}

resource "google_service_account" "ledger_scheduler" {
  count = local.ledger_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.service_account_prefix}-seal-cron"
  display_name = "il-audit seal schedule"
  description  = "OAuth identity of the hourly Cloud Scheduler job: may start ${var.ledger_job_name}, nothing else."
}

# Rows of the dataset (reads the tables, appends to audit_ledger and audit_ledger_rows).
# A dataset access entry, like the function's: iam.tf says why a dataset IAM member would
# drop the analyst dataset's authorisation.
resource "google_bigquery_dataset_access" "ledger_edits_dataset" {
  count = local.ledger_enabled ? 1 : 0

  project       = var.project_id
  dataset_id    = google_bigquery_dataset.audit.dataset_id
  role          = "roles/bigquery.dataEditor"
  user_by_email = google_service_account.ledger[0].email
}

# Query jobs (BigQuery grants them on projects only).
resource "google_project_iam_member" "ledger_runs_query_jobs" {
  count = local.ledger_enabled ? 1 : 0

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.ledger[0].email}"
}

# The schedule may start this one job. roles/run.invoker holds run.jobs.run ("Execute jobs
# on a schedule", Cloud Run docs); run.jobs.runWithOverrides is in other roles (Jobs Executor
# With Overrides, Developer), so the schedule cannot change the job's arguments.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_ledger" {
  count = local.ledger_enabled ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.ledger[0].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.ledger_scheduler[0].email}"
}

# --- The job and its schedule ----------------------------------------------------------

resource "google_cloud_run_v2_job" "ledger" {
  count = local.ledger_enabled ? 1 : 0

  project  = var.project_id
  name     = var.ledger_job_name
  location = var.region
  labels   = local.labels
  # The job holds nothing: seals live in BigQuery and in the export bucket.
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.ledger[0].email
      # No task retry: a failed run leaves its hours unsealed and the next hourly run seals
      # them. With the timeout under an hour, two runs never overlap.
      max_retries = 0
      timeout     = "${var.ledger_timeout_seconds}s"

      containers {
        image = var.ledger_image
        args  = local.ledger_args

        env {
          name  = "IL_BQ_LOGS_PROJECT"
          value = var.project_id
        }
        env {
          name  = "IL_BQ_AUDIT_DATASET"
          value = google_bigquery_dataset.audit.dataset_id
        }
        env {
          name  = "IL_BQ_AUDIT_DATASET_LOCATION"
          value = var.dataset_location
        }

        resources {
          limits = {
            cpu    = "1"
            memory = var.ledger_memory
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# google_cloud_scheduler_job (provider docs, "Scheduler Job Oauth"): http_target with
# http_method, uri and oauth_token { service_account_email, scope }; the account must be in
# the scheduler job's project. The job's region must be a Cloud Scheduler location.
resource "google_cloud_scheduler_job" "ledger_seal" {
  count = local.ledger_enabled ? 1 : 0

  project          = var.project_id
  region           = var.region
  name             = "${var.ledger_job_name}-hourly"
  description      = "Starts the Cloud Run job ${var.ledger_job_name} (il-audit ledger seal) every hour."
  schedule         = var.ledger_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # A start that failed is tried again shortly; a missed hour is sealed by the next run.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "30s"
  }

  http_target {
    http_method = "POST"
    uri         = local.ledger_run_uri

    oauth_token {
      service_account_email = google_service_account.ledger_scheduler[0].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.apis, google_cloud_run_v2_job_iam_member.scheduler_runs_ledger]
}

# --- The export: a locked bucket in another project -------------------------------------
#
# Why another project: whoever administers the dataset's project (owners, editors, anyone who
# may set IAM there) could otherwise grant themselves the bucket, or delete it with the
# project. In a project of its own, with its own admins, the seals are out of their reach: the
# job's account (in the dataset's project) gets create and read on this bucket and nothing
# else, and this module grants nobody from the dataset's project anything more.
#
# Why locked: a retention policy forbids deleting or replacing an object younger than the
# retention period. Unlocked, a bucket admin can shorten or remove the policy and then delete;
# locked, nobody can, not even the project's owners (Cloud Storage "Bucket Lock": once locked
# a policy cannot be removed or reduced, only lengthened, and the bucket cannot be deleted
# until every object has met the period). Locking is IRREVERSIBLE: the provider's
# retention_policy.is_locked "permanently restrict[s] edits to the bucket's retention policy".
#
# Versioning is left off: under the lock no object can be replaced or deleted inside the
# period, so no older version could ever arise to keep, and the exporter never overwrites
# (ifGenerationMatch=0).

resource "google_project_service" "ledger_export_storage" {
  count    = local.ledger_export_enabled && var.enable_apis ? 1 : 0
  provider = google.ledger

  project            = var.ledger_export_project_id
  service            = "storage.googleapis.com"
  disable_on_destroy = false
}

resource "google_storage_bucket" "ledger_export" {
  count    = local.ledger_export_enabled ? 1 : 0
  provider = google.ledger

  project                     = var.ledger_export_project_id
  name                        = local.ledger_export_bucket
  location                    = coalesce(var.ledger_export_location, var.dataset_location)
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  retention_policy {
    is_locked        = true
    retention_period = var.ledger_export_retention_days * 86400
  }

  depends_on = [google_project_service.ledger_export_storage]
}

# The job's account writes each seal once (objectCreator: create, never replace or delete) ...
resource "google_storage_bucket_iam_member" "ledger_creates_seals" {
  count    = local.ledger_export_enabled ? 1 : 0
  provider = google.ledger

  bucket = google_storage_bucket.ledger_export[0].name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.ledger[0].email}"
}

# ... and reads what it wrote: when a seal's object already exists (a re-run after a crash
# between the upload and its answer), the exporter compares the bytes; objectCreator alone
# holds no storage.objects.get. Seals carry counts and hashes, no personal data.
resource "google_storage_bucket_iam_member" "ledger_reads_seals" {
  count    = local.ledger_export_enabled ? 1 : 0
  provider = google.ledger

  bucket = google_storage_bucket.ledger_export[0].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.ledger[0].email}"
}
