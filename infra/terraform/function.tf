# The subscriber function, deployed from the directory `il-audit function bundle`
# writes (main.py, requirements.txt and il-audit's own wheel). HTTP trigger: the push
# subscription in pubsub.tf delivers to it (see infra/README.md for why).

locals {
  function_bundle_dir = coalesce(var.function_bundle_dir, "${path.module}/../../build/function-bundle")
  source_bucket_name  = coalesce(var.source_bucket_name, "${var.project_id}-il-audit-function-source")

  # Settings the function reads (README "Settings"); var.function_env adds or overrides.
  function_base_env = {
    IL_BQ_LOGS_PROJECT           = var.project_id
    IL_BQ_AUDIT_DATASET          = var.dataset
    IL_BQ_AUDIT_DATASET_LOCATION = var.dataset_location
    IL_AUDIT_SINK                = "bigquery"
    IL_AUDIT_TOPIC               = var.topic
    IL_AUDIT_DLQ_TOPIC           = var.dlq_topic
    IL_COST_RATES_SOURCE         = var.cost_rates_source
    IL_AUDIT_EXTRA_EVENT_TYPES   = join(",", var.extra_event_types)
  }
  function_env = merge(local.function_base_env, var.function_env)
}

data "archive_file" "function" {
  type        = "zip"
  source_dir  = local.function_bundle_dir
  output_path = "${path.root}/.terraform/il-audit-function.zip"
}

resource "google_storage_bucket" "function_source" {
  project  = var.project_id
  name     = local.source_bucket_name
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  depends_on = [google_project_service.apis]
}

# Named by content: a new bundle is a new object, which redeploys the function.
resource "google_storage_bucket_object" "function_source" {
  name   = "il-audit-function-${data.archive_file.function.output_md5}.zip"
  bucket = google_storage_bucket.function_source.name
  source = data.archive_file.function.output_path
}

resource "google_cloudfunctions2_function" "subscriber" {
  project     = var.project_id
  name        = var.function_name
  location    = var.region
  description = "il-audit subscriber: validates, prices and writes audit events to BigQuery."
  labels      = local.labels

  build_config {
    runtime         = var.function_runtime
    entry_point     = "handle_pubsub"
    service_account = var.build_service_account == null ? null : "projects/${var.project_id}/serviceAccounts/${var.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    available_memory                 = var.function_memory
    available_cpu                    = var.function_cpu
    max_instance_count               = var.function_max_instances
    min_instance_count               = var.function_min_instances
    max_instance_request_concurrency = var.function_concurrency
    timeout_seconds                  = var.function_timeout_seconds
    ingress_settings                 = var.function_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function.email
    environment_variables            = local.function_env
  }

  # No event_trigger: an HTTP function, fed by google_pubsub_subscription.push.

  depends_on = [
    google_project_service.apis,
    google_bigquery_dataset_access.function_edits_dataset,
    google_project_iam_member.function_runs_query_jobs,
    google_pubsub_topic_iam_member.function_publishes_dead_letters,
  ]
}
