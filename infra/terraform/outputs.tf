output "topic" {
  description = "Events topic (full name); apps publish here."
  value       = google_pubsub_topic.events.id
}

output "dead_letter_topic" {
  description = "Dead-letter topic (full name)."
  value       = google_pubsub_topic.dead_letter.id
}

output "push_subscription" {
  description = "The subscription that feeds the function (dead-letter and retry policies)."
  value       = google_pubsub_subscription.push.id
}

output "dead_letter_inspect_subscription" {
  description = "Pull subscription on the dead-letter topic used by `il-audit dlq`."
  value       = google_pubsub_subscription.dead_letter_inspect.id
}

output "function_uri" {
  description = "HTTPS endpoint of the subscriber function (callers need roles/run.invoker)."
  value       = google_cloudfunctions2_function.subscriber.service_config[0].uri
}

output "dataset" {
  description = "BigQuery dataset as project.dataset."
  value       = "${var.project_id}.${google_bigquery_dataset.audit.dataset_id}"
}

output "publisher_service_account" {
  description = "Service account for apps: it may publish to the events topic and nothing else."
  value       = google_service_account.publisher.email
}

output "function_service_account" {
  description = "Service account the function runs as."
  value       = google_service_account.function.email
}

output "push_service_account" {
  description = "Identity whose OIDC token the push subscription sends."
  value       = google_service_account.push.email
}

output "app_environment" {
  description = "Environment variables for apps that emit to this deployment."
  value = {
    IL_BQ_LOGS_PROJECT  = var.project_id
    IL_AUDIT_TOPIC      = google_pubsub_topic.events.name
    IL_AUDIT_DLQ_TOPIC  = google_pubsub_topic.dead_letter.name
    IL_BQ_AUDIT_DATASET = google_bigquery_dataset.audit.dataset_id
  }
}

output "alert_policies" {
  description = "Alert policy names: dead-letter backlog, oldest unacked message, function error rate."
  value = [
    google_monitoring_alert_policy.dead_letter_backlog.name,
    google_monitoring_alert_policy.oldest_unacked_message.name,
    google_monitoring_alert_policy.function_error_rate.name,
  ]
}

output "ledger_job" {
  description = "The Cloud Run job that seals (`gcloud run jobs execute` it to seal now); null without ledger_image."
  value       = one(google_cloud_run_v2_job.ledger[*].id)
}

output "ledger_service_account" {
  description = "Service account the seal job runs as; null without ledger_image."
  value       = one(google_service_account.ledger[*].email)
}

output "ledger_export" {
  description = "Where seals are exported (gs://BUCKET/PREFIX, the job's --export); null without an export project."
  value       = local.ledger_export_uri
}
