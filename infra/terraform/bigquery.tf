# The dataset. Its tables (tables.tf) and views (views.tf) are generated from the
# package by `il-audit infra terraform`; their schemas are in schemas/, the views'
# SQL in views/.
resource "google_bigquery_dataset" "audit" {
  project     = var.project_id
  dataset_id  = var.dataset
  location    = var.dataset_location
  description = "il-audit: audit and analytics events, dead letters, cost rates and views."
  labels      = local.labels

  # Erased and expired rows stay readable this long (then 7 days of fail-safe): privacy.tf.
  max_time_travel_hours      = var.max_time_travel_hours
  delete_contents_on_destroy = false

  depends_on = [google_project_service.apis]
}
