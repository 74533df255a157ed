# il-audit on Google Cloud: apps publish to a topic; an OIDC-authenticated push
# subscription (dead-letter and retry policies) feeds the subscriber function over
# HTTP; the function writes BigQuery and dead-letters what it refuses.
# infra/README.md explains why the function has an HTTP trigger and no Eventarc one.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  subscription_name         = coalesce(var.subscription_name, "${var.topic}-sub")
  inspect_subscription_name = "${var.dlq_topic}-inspect"
  labels                    = merge({ component = "il-audit" }, var.labels)

  # null keeps partitions forever (the default); BigQuery counts partition expiration in ms.
  # The outer bound of retention: the longest of the default and every family's, so that
  # partition expiry never removes a row a family keeps longer (docs/retention.md).
  partition_expiration_days = var.partition_expiration_days == null ? null : max(var.partition_expiration_days, values(var.retention_days_by_family)...)
  partition_expiration_ms   = local.partition_expiration_days == null ? null : local.partition_expiration_days * 86400000

  # The views' SQL (views/*.sql) is qualified with these, as `il-audit infra apply` does.
  view_template_vars = {
    project = var.project_id
    dataset = google_bigquery_dataset.audit.dataset_id
  }

  # Google-managed identity Pub/Sub uses to dead-letter messages and sign push tokens.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  # Google-managed identity of the BigQuery Data Transfer Service (scheduled queries).
  transfer_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"

  apis = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    # Scheduled queries: the retention deletes (retention.tf).
    "bigquerydatatransfer.googleapis.com",
    # The Storage Write API (AppendRows), how the function writes rows by default.
    "bigquerystorage.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    # The hourly start of the seal job (ledger.tf).
    "cloudscheduler.googleapis.com",
    # Data Catalog: the personal-data taxonomy and policy tags (privacy.tf); BigQuery's
    # column-level access guide enables the Data Policy API with it.
    "bigquerydatapolicy.googleapis.com",
    "datacatalog.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    # Cloud Functions 2nd gen runs on Cloud Run; the seal job is a Cloud Run job (ledger.tf).
    "run.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
